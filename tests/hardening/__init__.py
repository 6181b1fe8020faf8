"""Hardening: fuzzing, adversarial security tests, soak and crash safety (issue #8).

The ``test_*.py`` modules are the short versions that run in ``make test``; the
long runs are ``python -m tests.hardening.fuzz``, ``python -m tests.hardening.soak``
and ``python -m tests.hardening.crash`` (see ``docs/reliability.md``).
"""
