from collections import Counter

from django.middleware import csrf as django_csrf
from django.test import RequestFactory

from kreide.core import csrf


def test_tokens_are_masked_as_django_reads_them():
    assert django_csrf._mask_cipher_secret is csrf.mask_cipher_secret
    request = RequestFactory().get("/")
    first, second = django_csrf.get_token(request), django_csrf.get_token(request)
    secret = request.META["CSRF_COOKIE"]
    assert len(secret) == django_csrf.CSRF_SECRET_LENGTH
    for token in (first, second):
        assert len(token) == django_csrf.CSRF_TOKEN_LENGTH
        assert set(token) <= set(django_csrf.CSRF_ALLOWED_CHARS)
        assert django_csrf._unmask_cipher_token(token) == secret
        assert django_csrf._does_token_match(token, secret)
    assert first != second  # a fresh mask each time


def test_tokens_are_unmasked_as_django_unmasks_them():
    assert django_csrf._unmask_cipher_token is csrf.unmask_cipher_token
    chars = django_csrf.CSRF_ALLOWED_CHARS
    for _ in range(200):
        token = csrf.new_csrf_string() + csrf.new_csrf_string()
        length = django_csrf.CSRF_SECRET_LENGTH
        mask, shifted = token[:length], token[length:]
        # Django's own definition (django.middleware.csrf._unmask_cipher_token).
        pairs = zip((chars.index(x) for x in shifted), (chars.index(x) for x in mask), strict=True)
        assert csrf.unmask_cipher_token(token) == "".join(chars[x - y] for x, y in pairs)


def test_every_character_is_equally_likely():
    """`b % 62` without drawing again would make the first eight characters a quarter
    more likely than the rest."""
    counts = Counter("".join(csrf.new_csrf_string() for _ in range(20_000)))
    assert set(counts) == set(django_csrf.CSRF_ALLOWED_CHARS)
    assert max(counts.values()) / min(counts.values()) < 1.1
