"""The office's desk in the console: the queue, routing, notes and templates, memos, the ledger and its exports."""
