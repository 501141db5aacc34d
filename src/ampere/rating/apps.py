from django.apps import AppConfig


class RatingConfig(AppConfig):
    name = "ampere.rating"
    label = "rating"
    verbose_name = "Rating and tariffs"
