package serializer

// hot writes h (see hotHead), whose raw payload (if any) is MessagePack.
func (e *msgpackEncoder) hot(h *hotHead) error {
	enc := e.enc
	if err := enc.EncodeArrayLen(h.elems()); err != nil {
		return err
	}
	if err := enc.EncodeInt(int64(h.typ)); err != nil {
		return err
	}
	for _, id := range h.ids[:h.nids] {
		if err := enc.EncodeInt(int64(id)); err != nil {
			return err
		}
	}
	if len(h.details) == 0 {
		e.w.b = append(e.w.b, 0x80) // {}: no map made for it
	} else if err := e.value(h.details, 1); err != nil {
		return err
	}
	switch {
	case h.raw.N > 0:
		e.w.b = append(e.w.b, h.raw.Bytes...)
		return nil
	case len(h.kwargs) > 0:
		if err := e.list(h.argsOrEmpty(), 1); err != nil {
			return err
		}
		return e.value(h.kwargs, 1)
	case len(h.args) > 0:
		return e.list(h.args, 1)
	}
	return nil
}
