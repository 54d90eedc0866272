"""Email as a channel, inbound half: reply by email and bounces.

    addresses.py  reply+<token>@ and bounce+<token>@ the reply domain (pure)
    tokens.py     the MailToken rows behind those addresses
    extract.py    the new text of a reply, without quotes or signature (pure)
    dsn.py        whether a delivery status notification is permanent (pure)
    status.py     a resident's email status: bouncing, confirmed, changed
    receive.py    what `inbound_mail` does with a recipient and a message
    server.py     the SMTP/LMTP server (aiosmtpd) of `manage.py inbound_mail`

docs/email.md explains the whole, with the MX setup.
"""
