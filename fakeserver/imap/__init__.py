"""The fake IMAP server: sans-I/O command parser, mailbox model, asyncio shell."""
