"""The streaming side of addlink-stream: `core` (pure rules) ← `observe`, `transport` ← `pipeline` ← `ops`, `bench` ← `cli`."""
