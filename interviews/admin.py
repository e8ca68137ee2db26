from django.contrib import admin

from interviews.models import Interview, Question


class QuestionInline(admin.StackedInline):
    model = Question
    extra = 0
    fields = ("position", "text", "answer_seconds", "thinking_seconds", "retakes", "practice")


@admin.register(Interview)
class InterviewAdmin(admin.ModelAdmin):
    list_display = ("title", "created_at")
    inlines = [QuestionInline]
