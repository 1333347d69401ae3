from django.urls import path

from viggle_web.usage import views

app_name = "usage"

urlpatterns = [
    path("", views.report, name="report"),
    path("usage.csv", views.report_csv, name="csv"),
    path("budgets/", views.budgets, name="budgets"),
    path("budgets/organisation/", views.org_budget_set, name="org_budget_set"),
    path("budgets/<int:member_id>/", views.budget_set, name="budget_set"),
]
