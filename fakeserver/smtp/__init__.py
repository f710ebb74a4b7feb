"""The fake SMTP server: aiosmtpd on the IMAP server's loop, delivery, personas, faults."""
