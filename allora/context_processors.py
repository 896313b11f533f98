def roles(request):
    """Expose the role flags the base layout uses to pick its navigation."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "is_admin": user.is_admin,
        "is_staff_user": user.is_allora_staff,
        "is_customer_user": user.is_customer_user,
    }
