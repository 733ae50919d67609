"""Operations on the stores outside the event flow: reconciliation of drift."""
