//go:build !amd64 || purego

package deep

// useAsm is false: this build has no assembly kernels.
var useAsm = false

// useAVX512 is false: this build has no assembly kernels.
var useAVX512 = false

func asmKernels() kernels[float32] { return goKernels[float32]() }
