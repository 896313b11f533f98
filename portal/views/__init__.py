"""The customer portal's views, one module per part of the portal. Every view is
``portal_required`` and reads through the scoping querysets (``for_user``)."""
