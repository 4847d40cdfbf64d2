package dataset

import (
	"fmt"
	"strings"
	"unsafe"
)

// knownPairs are label vocabularies whose positive class is obvious;
// matched case-insensitively, positive first.
var knownPairs = [...][2]string{
	{"true", "false"},
	{"yes", "no"},
	{"up", "down"},
	{"pos", "neg"},
	{"positive", "negative"},
}

// labeler maps label values to 0/1 following the rule in the package doc.
type labeler struct {
	decided        bool // the first label (or Positive) fixed the rule
	fold           bool // known pair: compare case-insensitively
	posSet, negSet bool // class known
	posSeen        bool // pos is spelled as in the data (fold mode)
	negSeen        bool
	pos, neg       string
	posNum, negNum float64
	posIsNum       bool
	negIsNum       bool
}

func (l *labeler) setPositive(v string) {
	l.decided, l.posSet, l.posSeen, l.pos = true, true, true, v
	f, err := parseFloat([]byte(v), 64)
	l.posNum, l.posIsNum = f, err == nil
}

func (l *labeler) setNegative(v string) {
	l.negSet, l.negSeen, l.neg = true, true, v
	f, err := parseFloat([]byte(v), 64)
	l.negNum, l.negIsNum = f, err == nil
}

// decide applies the default rule to the first label.
func (l *labeler) decide(v []byte) {
	l.decided = true
	s := unsafe.String(&v[0], len(v)) // not retained
	for _, p := range knownPairs {
		if strings.EqualFold(s, p[0]) || strings.EqualFold(s, p[1]) {
			l.fold, l.posSet, l.negSet, l.pos, l.neg = true, true, true, p[0], p[1]
			return
		}
	}
	if f, err := parseFloat(v, 64); err == nil && (f == 0 || f == 1) {
		l.setPositive("1")
	}
	// Otherwise the first value becomes the negative class below.
}

// classify returns the label of the non-empty value v.
func (l *labeler) classify(v []byte) (float64, error) {
	if !l.decided {
		l.decide(v)
	}
	var num float64
	isNum := false
	if l.posIsNum || l.negIsNum {
		f, err := parseFloat(v, 64)
		num, isNum = f, err == nil
	}
	if l.posSet && l.match(v, num, isNum, l.pos, l.posNum, l.posIsNum) {
		if !l.posSeen {
			l.pos, l.posSeen = string(v), true
		}
		return 1, nil
	}
	if !l.negSet {
		l.setNegative(string(v))
		return 0, nil
	}
	if l.match(v, num, isNum, l.neg, l.negNum, l.negIsNum) {
		if !l.negSeen {
			l.neg, l.negSeen = string(v), true
		}
		return 0, nil
	}
	if !l.posSet { // rule 3: the second distinct value is positive
		l.setPositive(string(v))
		return 1, nil
	}
	return 0, fmt.Errorf("third distinct label %q (binary target has %q, %q)", v, l.pos, l.neg)
}

func (l *labeler) match(v []byte, num float64, isNum bool, class string, classNum float64, classIsNum bool) bool {
	s := unsafe.String(&v[0], len(v)) // not retained
	switch {
	case l.fold:
		return strings.EqualFold(s, class)
	case isNum && classIsNum:
		return num == classNum
	}
	return s == class
}
