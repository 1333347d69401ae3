from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from viggle_web.accounts.models import User


@admin.register(User)
class MemberAdmin(UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, ("Role", {"fields": ("role",)}))
    list_display = ("username", "email", "role", "is_active", "last_login")
