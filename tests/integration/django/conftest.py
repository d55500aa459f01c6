# The Django project is tested by its own pytest-django run (test_django_project.py), not collected here.
collect_ignore = ["project"]
