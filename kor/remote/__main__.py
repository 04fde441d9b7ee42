"""``python -m kor.remote``: the remote form app alone (see :mod:`kor.remote.app`)."""

from kor.remote.app import main

main()
