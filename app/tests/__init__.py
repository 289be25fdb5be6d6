"""The app's tests: what CodeBuild runs before building the image (`python -m pytest app/tests`, app/buildspec.yml).
They travel with the template, so a team's app repository made from it has them too (app/README.md)."""
