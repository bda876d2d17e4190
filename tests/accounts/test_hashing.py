from django.contrib.auth.hashers import check_password

from kreide.accounts.hashing import POOL_THRESHOLD, hash_passwords


def test_pool_keeps_the_order_and_reports_progress():
    passwords = [f"passwort-{number}" for number in range(POOL_THRESHOLD)]
    done: list[int] = []
    hashes = hash_passwords(passwords, workers=2, progress=done.append)
    assert sum(done) == len(passwords) == len(hashes)
    assert all(encoded.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$") for encoded in hashes)
    for index in (0, 17, len(passwords) - 1):
        assert check_password(passwords[index], hashes[index])
        assert not check_password(passwords[index], hashes[index - 1])
