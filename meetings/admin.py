"""Read-mostly admin views: changes go through the portal's pages and services."""

from django.contrib import admin

from .models import CalendarFeed, DatePoll, Invitee, Meeting, PollSlot


class InviteeInline(admin.TabularInline):
    model = Invitee
    extra = 0
    fields = ["user", "answer", "comment", "attendance"]
    readonly_fields = fields
    can_delete = False


@admin.register(Meeting)
class MeetingAdmin(admin.ModelAdmin):
    list_display = ["title", "group", "starts_at", "timezone", "state", "sequence"]
    list_filter = ["state"]
    search_fields = ["title", "group__name"]
    date_hierarchy = "starts_at"
    readonly_fields = ["uid", "sequence", "group", "created_by", "created_at", "updated_at"]
    inlines = [InviteeInline]

    def has_add_permission(self, request):
        return False


class PollSlotInline(admin.TabularInline):
    model = PollSlot
    extra = 0
    readonly_fields = ["starts_at", "ends_at"]
    can_delete = False


@admin.register(DatePoll)
class DatePollAdmin(admin.ModelAdmin):
    list_display = ["title", "group", "closes_at", "state"]
    list_filter = ["state"]
    search_fields = ["title", "group__name"]
    readonly_fields = ["group", "created_by", "meeting", "decided_by", "decided_at"]
    inlines = [PollSlotInline]

    def has_add_permission(self, request):
        return False


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):
    list_display = ["user", "created_at", "regenerated_at"]
    exclude = ["token"]
    readonly_fields = ["user", "created_at", "regenerated_at"]

    def has_add_permission(self, request):
        return False
