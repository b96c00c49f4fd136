from alignlab.cli import app

app()
