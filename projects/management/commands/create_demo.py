import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from projects import services
from projects.models import Organization, Project


class Command(BaseCommand):
    help = "Creates, once, the demo organization “Demo”, its project “Demo project” and the user demo, and prints the login."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        User = get_user_model()
        user = User.objects.filter(username="demo").first()
        if user is not None:
            self.stdout.write("Demo login: user demo (password unchanged since it was first printed or set by DEMO_PASSWORD).")
            return
        password = os.environ.get("DEMO_PASSWORD") or secrets.token_urlsafe(12)
        user = User.objects.create_user("demo", email="demo@example.com", password=password, first_name="Demo", last_name="User")
        organization = Organization.objects.filter(name="Demo").first() or services.organization_create(name="Demo", owner=user)
        organization.memberships.get_or_create(user=user, defaults={"role": "admin"})
        if not Project.objects.filter(organization=organization, name="Demo project").exists():
            services.project_create(
                organization=organization,
                created_by=user,
                name="Demo project",
                description="A place to try uploads: drop images or videos in the Add Assets panel.",
            )
        self.stdout.write(self.style.SUCCESS(f"Demo login: user demo, password {password}"))
