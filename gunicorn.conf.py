"""gunicorn settings read automatically from the working directory (see README).

The access log leaves out query strings: an export fetched with `?token=` must not
write the token into the log. Agents should send the token as a header anyway
(docs/export.md); this covers those that cannot.
"""

# The default is '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"', where
# %(r)s is the request line, query string included. %(U)s is the path alone.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(a)s"'
