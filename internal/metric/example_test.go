package metric_test

import (
	"encoding/json"
	"fmt"

	"github.com/perpetua-ml/perpetua/internal/metric"
)

func ExampleBinary() {
	m := metric.NewBinary(2, 0.5) // window of 2, fading factor 0.5
	for _, ex := range []struct{ p, y float64 }{{0.9, 1}, {0.2, 0}, {0.6, 0}, {0.7, 1}} {
		m.Update(ex.p, ex.y) // score the prediction first, then the learner learns
	}
	v := m.Snapshot()
	fmt.Printf("accuracy %.2f, window accuracy %.2f, AUC %.2f, window AUC %.2f\n",
		v.Accuracy, v.WindowAccuracy, v.AUC, v.WindowAUC)

	m.Reset()
	m.Update(0.5, 1) // one class only: AUC undefined, written as null
	out, _ := json.Marshal(m.Snapshot())
	fmt.Println(string(out))
	// Output:
	// accuracy 0.75, window accuracy 0.50, AUC 1.00, window AUC 1.00
	// {"log_loss":0.6931471805599453,"accuracy":1,"auc":null,"brier":0.25,"window_log_loss":0.6931471805599453,"window_accuracy":1,"window_auc":null,"fading_log_loss":0.6931471805599453,"fading_accuracy":1}
}

func ExampleAUC() {
	var auc metric.AUC
	auc.Update(0.8, 1)
	fmt.Println(auc.Value()) // one class only: undefined
	auc.Update(0.8, 0)       // a tie counts one half
	auc.Update(0.1, 0)
	fmt.Println(auc.Value())
	// Output:
	// NaN
	// 0.75
}
