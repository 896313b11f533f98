from . import second_factor


def roles(request):
    """Expose the role flags the base layout uses to pick its navigation (none while a second
    factor is owed: every link would only lead back to the code page)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    if second_factor.needs_verification(request):
        return {"owes_second_factor": True}
    return {
        "is_admin": user.is_admin,
        "is_staff_user": user.is_allora_staff,
        "is_customer_user": user.is_customer_user,
    }
