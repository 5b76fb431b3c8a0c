"""Roster pages under /rosters/."""

from django.urls import path

from .views import roster_compare, roster_edits, rosters

app_name = "rosters"

urlpatterns = [
    path("", rosters.roster_list, name="list"),
    path("mine/", rosters.my_roster, name="mine"),
    path("mine.ics", rosters.my_roster_ics, name="mine_ics"),
    path("requests/", rosters.staff_requests, name="requests"),
    path("<int:pk>/", rosters.roster_detail, name="detail"),
    path("<int:pk>/action/", rosters.roster_action, name="action"),
    path("<int:pk>/cell/", roster_edits.roster_cell, name="cell"),
    path("<int:pk>/move/", roster_edits.roster_move, name="move"),
    path("<int:pk>/compare/", roster_compare.roster_compare, name="compare"),
    path("<int:pk>/progress.json", rosters.roster_progress, name="progress"),
    path("<int:pk>/export.csv", rosters.roster_export_csv, name="export_csv"),
    path("<int:pk>/export.ics", rosters.roster_export_ics, name="export_ics"),
]
