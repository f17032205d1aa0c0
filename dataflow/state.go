package dataflow

// State sizes for Dataflow.StateRows: entries held per operator, counted
// where they are held (a shared arrangement belongs to the catalog object
// it indexes and is not counted here).

func (o *reduceOp) stateRows() int { return len(o.groups) }

func (o *topKOp) stateRows() int {
	n := 0
	for _, g := range o.groups {
		n += g.rows()
	}
	return n
}

func (o *thresholdOp) stateRows() int { return o.counts.tree.Len() }

func (o *joinOp) stateRows() int {
	n := 0
	if !o.leftShared {
		n += o.left.rows()
	}
	if !o.rightShared {
		n += o.right.rows()
	}
	return n
}

// rows is the number of distinct (key, row) entries.
func (a *Arrangement) rows() int {
	n := 0
	count := func(k arrKey) {
		if k.rows == nil {
			n++ // the one row kept inline
		} else {
			n += k.rows.n
		}
	}
	for _, k := range a.keys {
		count(k)
	}
	for _, k := range a.ints {
		count(k)
	}
	return n
}
