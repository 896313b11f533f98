"""The demo business that ``make run`` loads (``manage.py seed_demo [--today DATE]``): nothing in
production code imports it. Each module seeds one part, in the order the command runs them, and
each is idempotent (a second run finds everything in place and changes nothing):

- ``people``: the admin and the two staff (one password for every demo account).
- ``customers``: four customers with their contacts; the first contact of each active customer
  signs in to the portal.
- ``billing``: the rate card (``seed``), then the time entries, invoices and payments of the
  past visits (``seed_invoices``).
- ``agreements``: agreements in every state around ``today``, signed as customers sign them.
- ``scheduling``: holidays, technicians on the lines, reports of past visits.
- ``service``: emergency requests, met, breached and open.
- ``projects``: projects approved, awaiting approval and declined.
"""
