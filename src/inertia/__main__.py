from inertia.cli import app

app(prog_name="inertia")
