"""The office's desk: the queue and routing, notices, memos, the ledger and its exports, statistics."""
