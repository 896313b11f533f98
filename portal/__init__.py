"""The customer portal: every view a customer user sees, scoped by ``request.user.customer``."""
