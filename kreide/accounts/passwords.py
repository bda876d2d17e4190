"""Initial passwords pupils can type: no look-alike characters, grouped for reading aloud."""

import secrets

_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def generate_initial_password(groups: int = 3, group_length: int = 4) -> str:
    return "-".join(
        "".join(secrets.choice(_ALPHABET) for _ in range(group_length)) for _ in range(groups)
    )
