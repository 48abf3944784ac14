"""Judge backends: text in, text (+ verdict-token probabilities, usage) out."""
