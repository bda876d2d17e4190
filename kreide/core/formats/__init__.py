"""Date formats per language (settings.FORMAT_MODULE_PATH); German keeps Django's own."""
