import pytest
from django.utils.functional import LazyObject

from kreide.accounts.models import User

pytestmark = pytest.mark.django_db


def test_views_read_the_signed_in_user_itself_not_through_lazy_wrappers(world, client_for):
    response = client_for(world.student_7a).get("/tasks/")
    assert response.status_code == 200
    user = response.wsgi_request.user
    assert type(user) is User and not isinstance(user, LazyObject)
    assert user.pk == world.student_7a.pk
    assert user.is_verified() is False  # django-otp's fields stay on it
    anonymous = client_for(world.student_7a)
    anonymous.logout()
    assert not isinstance(anonymous.get("/accounts/login/").wsgi_request.user, LazyObject)
