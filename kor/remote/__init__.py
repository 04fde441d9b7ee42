"""The remote outcome form: one-time links for the client's own phone.

:mod:`kor.remote.tokens` holds the secrets (token, short code, hashes, nonce, rate
limits), :mod:`kor.remote.app` the small tornado app; the links and drafts live in
:mod:`kor.store.remote`.
"""
