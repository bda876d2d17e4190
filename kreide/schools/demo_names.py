"""Plausible German names for the demo school."""

FIRST_NAMES = [
    "Lena", "Mia", "Emma", "Hannah", "Sophia", "Lea", "Marie", "Emilia", "Lina", "Anna",
    "Clara", "Johanna", "Ella", "Ida", "Frieda", "Greta", "Paula", "Luisa", "Nele", "Zoe",
    "Leonie", "Amelie", "Charlotte", "Mila", "Lotta", "Aylin", "Elif", "Zeynep", "Jana", "Sara",
    "Ben", "Paul", "Leon", "Finn", "Noah", "Luis", "Jonas", "Elias", "Felix", "Henry",
    "Emil", "Anton", "Theo", "Maximilian", "Jakob", "Moritz", "David", "Niklas", "Lukas",
    "Tim", "Julian", "Till", "Ole", "Mats", "Karl", "Yusuf", "Can", "Mehmet", "Milan", "Jannik",
]

LAST_NAMES = [
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
    "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder",
    "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange",
    "Schmitt", "Werner", "Schmitz", "Krause", "Meier", "Lehmann", "Schmid", "Schulze", "Maier",
    "Köhler", "Herrmann", "König", "Walter", "Mayer", "Huber", "Kaiser", "Fuchs", "Peters",
    "Lang", "Scholz", "Möller", "Weiß", "Jung", "Hahn", "Schubert", "Vogel", "Friedrich",
    "Keller", "Günther", "Frank", "Berger", "Winkler", "Roth", "Beck", "Lorenz", "Baumann",
    "Franke", "Albrecht", "Schuster", "Simon", "Ludwig", "Böhm", "Winter", "Kraus", "Martin",
    "Yılmaz", "Kaya", "Demir", "Nowak", "Kowalski", "Brinkmann", "Ovelgönne", "Tebbe",
]

SUBJECTS = [
    ("Deutsch", "De"), ("Mathematik", "Ma"), ("Englisch", "En"), ("Französisch", "Fr"),
    ("Latein", "La"), ("Biologie", "Bio"), ("Chemie", "Ch"), ("Physik", "Ph"),
    ("Geschichte", "Ge"), ("Erdkunde", "Ek"), ("Politik", "Po"), ("Religion", "Re"),
    ("Werte und Normen", "WuN"), ("Kunst", "Ku"), ("Musik", "Mu"), ("Sport", "Sp"),
    ("Informatik", "If"), ("Spanisch", "Sn"),
]
