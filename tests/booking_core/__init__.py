"""Pure booking cores: appointment slotting and queue wait prediction (no Django)."""
