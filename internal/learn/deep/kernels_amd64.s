//go:build amd64 && !purego

#include "textflag.h"

// AVX2/FMA (and, for Adam, AVX-512) float32 kernels; see
// kernels_amd64.go. Each processes n elements, n a multiple of 8 (16 for
// the AVX-512 ones); the Go wrappers handle the tails.

// func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eaxArg+0(FP), AX
	MOVL ecxArg+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func xgetbv() (eax, edx uint32)
TEXT ·xgetbv(SB), NOSPLIT, $0-8
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	MOVL DX, edx+4(FP)
	RET

// func dotAVX(a, b *float32, n int) float32
// Four 8-lane accumulators over blocks of 32, then one for the rest.
TEXT ·dotAVX(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ AX, AX
	MOVQ CX, DX
	ANDQ $-32, DX
	JZ dot8

dot32:
	VMOVUPS (SI)(AX*4), Y4
	VMOVUPS 32(SI)(AX*4), Y5
	VMOVUPS 64(SI)(AX*4), Y6
	VMOVUPS 96(SI)(AX*4), Y7
	VFMADD231PS (DI)(AX*4), Y4, Y0
	VFMADD231PS 32(DI)(AX*4), Y5, Y1
	VFMADD231PS 64(DI)(AX*4), Y6, Y2
	VFMADD231PS 96(DI)(AX*4), Y7, Y3
	ADDQ $32, AX
	CMPQ AX, DX
	JLT dot32

dot8:
	CMPQ AX, CX
	JGE dotsum
	VMOVUPS (SI)(AX*4), Y4
	VFMADD231PS (DI)(AX*4), Y4, Y0
	ADDQ $8, AX
	JMP dot8

dotsum:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func axpyAVX(a float32, x, y *float32, n int)
TEXT ·axpyAVX(SB), NOSPLIT, $0-32
	VBROADCASTSS a+0(FP), Y0
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	MOVQ n+24(FP), CX
	XORQ AX, AX
	MOVQ CX, DX
	ANDQ $-32, DX
	JZ axpy8

axpy32:
	VMOVUPS (SI)(AX*4), Y1
	VMOVUPS 32(SI)(AX*4), Y2
	VMOVUPS 64(SI)(AX*4), Y3
	VMOVUPS 96(SI)(AX*4), Y4
	VMULPS Y0, Y1, Y1
	VMULPS Y0, Y2, Y2
	VMULPS Y0, Y3, Y3
	VMULPS Y0, Y4, Y4
	VADDPS (DI)(AX*4), Y1, Y1
	VADDPS 32(DI)(AX*4), Y2, Y2
	VADDPS 64(DI)(AX*4), Y3, Y3
	VADDPS 96(DI)(AX*4), Y4, Y4
	VMOVUPS Y1, (DI)(AX*4)
	VMOVUPS Y2, 32(DI)(AX*4)
	VMOVUPS Y3, 64(DI)(AX*4)
	VMOVUPS Y4, 96(DI)(AX*4)
	ADDQ $32, AX
	CMPQ AX, DX
	JLT axpy32

axpy8:
	CMPQ AX, CX
	JGE axpydone
	VMULPS (SI)(AX*4), Y0, Y1
	VADDPS (DI)(AX*4), Y1, Y1
	VMOVUPS Y1, (DI)(AX*4)
	ADDQ $8, AX
	JMP axpy8

axpydone:
	VZEROUPPER
	RET

// func scaleAVX(dst *float32, a float32, x *float32, n int)
TEXT ·scaleAVX(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	VBROADCASTSS a+8(FP), Y0
	MOVQ x+16(FP), SI
	MOVQ n+24(FP), CX
	XORQ AX, AX

scale8:
	CMPQ AX, CX
	JGE scaledone
	VMULPS (SI)(AX*4), Y0, Y1
	VMOVUPS Y1, (DI)(AX*4)
	ADDQ $8, AX
	JMP scale8

scaledone:
	VZEROUPPER
	RET

// func adamAVX(w, m, v, grad *float32, n int, c *adamStep)
// adamStep is {b1, c1, b2, c2, lrT, epsT, l2, tiny float32}.
TEXT ·adamAVX(SB), NOSPLIT, $0-48
	MOVQ c+40(FP), BX
	VBROADCASTSS 0(BX), Y8
	VBROADCASTSS 4(BX), Y9
	VBROADCASTSS 8(BX), Y10
	VBROADCASTSS 12(BX), Y11
	VBROADCASTSS 16(BX), Y12
	VBROADCASTSS 20(BX), Y13
	VBROADCASTSS 24(BX), Y14
	VBROADCASTSS 28(BX), Y15
	VPCMPEQD Y7, Y7, Y7
	VPSRLD $1, Y7, Y7 // 0x7fffffff: the absolute-value mask
	MOVQ w+0(FP), DI
	MOVQ m+8(FP), SI
	MOVQ v+16(FP), DX
	MOVQ grad+24(FP), R8
	MOVQ n+32(FP), CX
	XORQ AX, AX

adam8:
	CMPQ AX, CX
	JGE adamdone
	VMOVUPS (DI)(AX*4), Y0     // w
	VMULPS Y0, Y14, Y1         // l2·w
	VADDPS (R8)(AX*4), Y1, Y1  // g = ∇ + l2·w
	VMULPS (SI)(AX*4), Y8, Y2  // β1·m
	VMULPS Y1, Y9, Y3          // (1−β1)·g
	VADDPS Y3, Y2, Y2          // m
	VMULPS Y1, Y1, Y3          // g²
	VMULPS Y3, Y11, Y3         // (1−β2)·g²
	VMULPS (DX)(AX*4), Y10, Y4 // β2·v
	VADDPS Y3, Y4, Y4          // v
	VANDPS Y2, Y7, Y5          // |m|
	VCMPPS $0x1d, Y15, Y5, Y5  // |m| ≥ tiny
	VANDPS Y5, Y2, Y2          // flush m
	VCMPPS $0x1d, Y15, Y4, Y6  // v ≥ tiny
	VANDPS Y6, Y4, Y4          // flush v
	VMOVUPS Y2, (SI)(AX*4)
	VMOVUPS Y4, (DX)(AX*4)
	VSQRTPS Y4, Y5
	VADDPS Y13, Y5, Y5         // √v + epsT
	VDIVPS Y5, Y2, Y6          // m/(√v + epsT)
	VMULPS Y6, Y12, Y6         // lrT·…
	VSUBPS Y6, Y0, Y0          // w -= …
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ $8, AX
	JMP adam8

adamdone:
	VZEROUPPER
	RET

// func adagradAVX(w, acc, grad *float32, n int, c *[3]float32)
// c is {lr, eps, l2}.
TEXT ·adagradAVX(SB), NOSPLIT, $0-40
	MOVQ c+32(FP), BX
	VBROADCASTSS 0(BX), Y8
	VBROADCASTSS 4(BX), Y9
	VBROADCASTSS 8(BX), Y10
	MOVQ w+0(FP), DI
	MOVQ acc+8(FP), SI
	MOVQ grad+16(FP), DX
	MOVQ n+24(FP), CX
	XORQ AX, AX

adagrad8:
	CMPQ AX, CX
	JGE adagraddone
	VMOVUPS (DI)(AX*4), Y0   // w
	VMULPS Y0, Y10, Y1       // l2·w
	VADDPS (DX)(AX*4), Y1, Y1 // g = ∇ + l2·w
	VMULPS Y1, Y1, Y2        // g²
	VADDPS (SI)(AX*4), Y2, Y2 // acc += g²
	VMOVUPS Y2, (SI)(AX*4)
	VSQRTPS Y2, Y3
	VADDPS Y9, Y3, Y3        // √acc + eps
	VDIVPS Y3, Y1, Y4        // g/(√acc + eps)
	VMULPS Y4, Y8, Y4        // lr·…
	VSUBPS Y4, Y0, Y0        // w -= …
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ $8, AX
	JMP adagrad8

adagraddone:
	VZEROUPPER
	RET

// func sgdAVX(w, grad *float32, n int, c *[2]float32)
// c is {lr, l2}.
TEXT ·sgdAVX(SB), NOSPLIT, $0-32
	MOVQ c+24(FP), BX
	VBROADCASTSS 0(BX), Y8
	VBROADCASTSS 4(BX), Y9
	MOVQ w+0(FP), DI
	MOVQ grad+8(FP), SI
	MOVQ n+16(FP), CX
	XORQ AX, AX

sgd8:
	CMPQ AX, CX
	JGE sgddone
	VMOVUPS (DI)(AX*4), Y0
	VMULPS Y0, Y9, Y1        // l2·w
	VADDPS (SI)(AX*4), Y1, Y1 // g + l2·w
	VMULPS Y1, Y8, Y1        // lr·…
	VSUBPS Y1, Y0, Y0        // w -= …
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ $8, AX
	JMP sgd8

sgddone:
	VZEROUPPER
	RET

// func adamOuterAVX(w, m, v, x *float32, n int, d float32, c *adamStep)
// Adam with the gradient of an outer-product row, g = d·x + l2·w,
// computed on the fly instead of read from a buffer.
TEXT ·adamOuterAVX(SB), NOSPLIT, $0-56
	MOVQ c+48(FP), BX
	VBROADCASTSS 0(BX), Y8
	VBROADCASTSS 4(BX), Y9
	VBROADCASTSS 8(BX), Y10
	VBROADCASTSS 12(BX), Y11
	VBROADCASTSS 16(BX), Y12
	VBROADCASTSS 20(BX), Y13
	VBROADCASTSS 24(BX), Y14
	VBROADCASTSS 28(BX), Y15
	VBROADCASTSS d+40(FP), Y6
	VPCMPEQD Y7, Y7, Y7
	VPSRLD $1, Y7, Y7
	MOVQ w+0(FP), DI
	MOVQ m+8(FP), SI
	MOVQ v+16(FP), DX
	MOVQ x+24(FP), R8
	MOVQ n+32(FP), CX
	XORQ AX, AX

adamouter8:
	CMPQ AX, CX
	JGE adamouterdone
	VMOVUPS (DI)(AX*4), Y0     // w
	VMULPS (R8)(AX*4), Y6, Y1  // d·x
	VMULPS Y0, Y14, Y3         // l2·w
	VADDPS Y3, Y1, Y1          // g = d·x + l2·w
	VMULPS (SI)(AX*4), Y8, Y2  // β1·m
	VMULPS Y1, Y9, Y3          // (1−β1)·g
	VADDPS Y3, Y2, Y2          // m
	VMULPS Y1, Y1, Y3          // g²
	VMULPS Y3, Y11, Y3         // (1−β2)·g²
	VMULPS (DX)(AX*4), Y10, Y4 // β2·v
	VADDPS Y3, Y4, Y4          // v
	VANDPS Y2, Y7, Y5          // |m|
	VCMPPS $0x1d, Y15, Y5, Y5  // |m| ≥ tiny
	VANDPS Y5, Y2, Y2          // flush m
	VCMPPS $0x1d, Y15, Y4, Y3  // v ≥ tiny
	VANDPS Y3, Y4, Y4          // flush v
	VMOVUPS Y2, (SI)(AX*4)
	VMOVUPS Y4, (DX)(AX*4)
	VSQRTPS Y4, Y5
	VADDPS Y13, Y5, Y5         // √v + epsT
	VDIVPS Y5, Y2, Y1          // m/(√v + epsT)
	VMULPS Y1, Y12, Y1         // lrT·…
	VSUBPS Y1, Y0, Y0          // w -= …
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ $8, AX
	JMP adamouter8

adamouterdone:
	VZEROUPPER
	RET

// func adamOuter512(w, m, v, x *float32, n int, d float32, c *adamStep)
// adamOuterAVX with 16-lane AVX-512 registers; n is a multiple of 16.
TEXT ·adamOuter512(SB), NOSPLIT, $0-56
	MOVQ c+48(FP), BX
	VBROADCASTSS 0(BX), Z8
	VBROADCASTSS 4(BX), Z9
	VBROADCASTSS 8(BX), Z10
	VBROADCASTSS 12(BX), Z11
	VBROADCASTSS 16(BX), Z12
	VBROADCASTSS 20(BX), Z13
	VBROADCASTSS 24(BX), Z14
	VBROADCASTSS 28(BX), Z15
	VBROADCASTSS d+40(FP), Z6
	VPTERNLOGD $0xff, Z7, Z7, Z7
	VPSRLD $1, Z7, Z7 // the absolute-value mask
	MOVQ w+0(FP), DI
	MOVQ m+8(FP), SI
	MOVQ v+16(FP), DX
	MOVQ x+24(FP), R8
	MOVQ n+32(FP), CX
	XORQ AX, AX

adam512loop:
	CMPQ AX, CX
	JGE adam512done
	VMOVUPS (DI)(AX*4), Z0     // w
	VMULPS (R8)(AX*4), Z6, Z1  // d·x
	VMULPS Z0, Z14, Z3         // l2·w
	VADDPS Z3, Z1, Z1          // g = d·x + l2·w
	VMULPS (SI)(AX*4), Z8, Z2  // β1·m
	VMULPS Z1, Z9, Z3          // (1−β1)·g
	VADDPS Z3, Z2, Z2          // m
	VMULPS Z1, Z1, Z3          // g²
	VMULPS Z3, Z11, Z3         // (1−β2)·g²
	VMULPS (DX)(AX*4), Z10, Z4 // β2·v
	VADDPS Z3, Z4, Z4          // v
	VPANDD Z2, Z7, Z5          // |m|
	VCMPPS $0x1d, Z15, Z5, K1  // |m| ≥ tiny
	VMOVAPS.Z Z2, K1, Z2       // flush m
	VCMPPS $0x1d, Z15, Z4, K2  // v ≥ tiny
	VMOVAPS.Z Z4, K2, Z4       // flush v
	VMOVUPS Z2, (SI)(AX*4)
	VMOVUPS Z4, (DX)(AX*4)
	VSQRTPS Z4, Z5
	VADDPS Z13, Z5, Z5         // √v + epsT
	VDIVPS Z5, Z2, Z1          // m/(√v + epsT)
	VMULPS Z1, Z12, Z1         // lrT·…
	VSUBPS Z1, Z0, Z0          // w -= …
	VMOVUPS Z0, (DI)(AX*4)
	ADDQ $16, AX
	JMP adam512loop

adam512done:
	VZEROUPPER
	RET

// func adam512(w, m, v, grad *float32, n int, c *adamStep)
// adamAVX with 16-lane AVX-512 registers; n is a multiple of 16.
TEXT ·adam512(SB), NOSPLIT, $0-48
	MOVQ c+40(FP), BX
	VBROADCASTSS 0(BX), Z8
	VBROADCASTSS 4(BX), Z9
	VBROADCASTSS 8(BX), Z10
	VBROADCASTSS 12(BX), Z11
	VBROADCASTSS 16(BX), Z12
	VBROADCASTSS 20(BX), Z13
	VBROADCASTSS 24(BX), Z14
	VBROADCASTSS 28(BX), Z15
	VPTERNLOGD $0xff, Z7, Z7, Z7
	VPSRLD $1, Z7, Z7 // the absolute-value mask
	MOVQ w+0(FP), DI
	MOVQ m+8(FP), SI
	MOVQ v+16(FP), DX
	MOVQ grad+24(FP), R8
	MOVQ n+32(FP), CX
	XORQ AX, AX

adambuf512loop:
	CMPQ AX, CX
	JGE adambuf512done
	VMOVUPS (DI)(AX*4), Z0     // w
	VMULPS Z0, Z14, Z1         // l2·w
	VADDPS (R8)(AX*4), Z1, Z1  // g = ∇ + l2·w
	VMULPS (SI)(AX*4), Z8, Z2  // β1·m
	VMULPS Z1, Z9, Z3          // (1−β1)·g
	VADDPS Z3, Z2, Z2          // m
	VMULPS Z1, Z1, Z3          // g²
	VMULPS Z3, Z11, Z3         // (1−β2)·g²
	VMULPS (DX)(AX*4), Z10, Z4 // β2·v
	VADDPS Z3, Z4, Z4          // v
	VPANDD Z2, Z7, Z5          // |m|
	VCMPPS $0x1d, Z15, Z5, K1  // |m| ≥ tiny
	VMOVAPS.Z Z2, K1, Z2       // flush m
	VCMPPS $0x1d, Z15, Z4, K2  // v ≥ tiny
	VMOVAPS.Z Z4, K2, Z4       // flush v
	VMOVUPS Z2, (SI)(AX*4)
	VMOVUPS Z4, (DX)(AX*4)
	VSQRTPS Z4, Z5
	VADDPS Z13, Z5, Z5         // √v + epsT
	VDIVPS Z5, Z2, Z1          // m/(√v + epsT)
	VMULPS Z1, Z12, Z1         // lrT·…
	VSUBPS Z1, Z0, Z0          // w -= …
	VMOVUPS Z0, (DI)(AX*4)
	ADDQ $16, AX
	JMP adambuf512loop

adambuf512done:
	VZEROUPPER
	RET

// func dot512(a, b *float32, n int) float32
// dotAVX with 16-lane registers, for any n ≥ 1: the last partial vector
// is loaded under a mask (masked-off lanes read nothing and count 0).
TEXT ·dot512(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	XORQ AX, AX
	MOVQ CX, DX
	ANDQ $-64, DX
	JZ dot512by16

dot512by64:
	VMOVUPS (SI)(AX*4), Z4
	VMOVUPS 64(SI)(AX*4), Z5
	VMOVUPS 128(SI)(AX*4), Z6
	VMOVUPS 192(SI)(AX*4), Z7
	VFMADD231PS (DI)(AX*4), Z4, Z0
	VFMADD231PS 64(DI)(AX*4), Z5, Z1
	VFMADD231PS 128(DI)(AX*4), Z6, Z2
	VFMADD231PS 192(DI)(AX*4), Z7, Z3
	ADDQ $64, AX
	CMPQ AX, DX
	JLT dot512by64

dot512by16:
	MOVQ CX, DX
	ANDQ $-16, DX

dot512loop16:
	CMPQ AX, DX
	JGE dot512tail
	VMOVUPS (SI)(AX*4), Z4
	VFMADD231PS (DI)(AX*4), Z4, Z1
	ADDQ $16, AX
	JMP dot512loop16

dot512tail:
	SUBQ AX, CX // 0 to 15 left
	JZ dot512sum
	MOVL $1, R9
	SHLL CX, R9
	DECL R9
	KMOVW R9, K1
	VMOVUPS.Z (SI)(AX*4), K1, Z4
	VMOVUPS.Z (DI)(AX*4), K1, Z5
	VFMADD231PS Z5, Z4, Z2

dot512sum:
	VADDPS Z1, Z0, Z0
	VADDPS Z3, Z2, Z2
	VADDPS Z2, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func axpy512(a float32, x, y *float32, n int)
// axpyAVX with 16-lane registers, for any n ≥ 1 (masked last vector).
TEXT ·axpy512(SB), NOSPLIT, $0-32
	VBROADCASTSS a+0(FP), Z0
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	MOVQ n+24(FP), CX
	XORQ AX, AX
	MOVQ CX, DX
	ANDQ $-16, DX

axpy512loop:
	CMPQ AX, DX
	JGE axpy512tail
	VMULPS (SI)(AX*4), Z0, Z1
	VADDPS (DI)(AX*4), Z1, Z1
	VMOVUPS Z1, (DI)(AX*4)
	ADDQ $16, AX
	JMP axpy512loop

axpy512tail:
	SUBQ AX, CX
	JZ axpy512done
	MOVL $1, R9
	SHLL CX, R9
	DECL R9
	KMOVW R9, K1
	VMOVUPS.Z (SI)(AX*4), K1, Z1
	VMOVUPS.Z (DI)(AX*4), K1, Z2
	VMULPS Z1, Z0, Z1
	VADDPS Z2, Z1, Z1
	VMOVUPS Z1, K1, (DI)(AX*4)

axpy512done:
	VZEROUPPER
	RET
