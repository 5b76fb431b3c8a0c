"""Staff pages under /appointments/ and the patient's booking pages under /b/."""

from django.urls import path

from .views import booking, staff

app_name = "appointments"

urlpatterns = [
    path("inbox/", staff.inbox, name="inbox"),
    path("<int:pk>/decide/", staff.decide, name="decide"),
    path("queue/", staff.doctor_queue, name="queue"),
    path("desk/", staff.desk, name="desk"),
    path("board/<int:site_id>/", staff.board, name="board"),
    path("board/<int:site_id>/data.json", staff.board_data, name="board_data"),
    path("sites/", staff.sites, name="sites"),
    path("codes/<int:pk>/poster/", staff.poster, name="poster"),
    path("codes/<int:pk>/qr.<str:fmt>", staff.qr_image, name="qr_image"),
    path("notifications/", staff.notifications, name="notifications"),
    path("notifications/<int:pk>/open/", staff.notification_open, name="notification_open"),
]

booking_patterns = (
    [
        path("login/", booking.phone_login, name="login"),
        path("me/", booking.me, name="me"),
        path("me/people/new/", booking.person_add, name="person_add"),
        path("slot/<int:slot_id>/", booking.slot, name="slot"),
        path("sessions/<int:session_id>/waitlist/", booking.waitlist, name="waitlist"),
        path("appointments/<int:pk>/", booking.appointment, name="appointment"),
        path(
            "appointments/<int:pk>/status.json",
            booking.appointment_status,
            name="appointment_status",
        ),
        path("appointments/<int:pk>/action/", booking.appointment_action, name="action"),
        path("<str:token>", booking.entry, name="entry"),
        path("<str:token>/d/<int:department_id>/", booking.doctors, name="doctors"),
        path("<str:token>/doctor/<int:doctor_id>/", booking.doctor, name="doctor"),
    ],
    "booking",
)
