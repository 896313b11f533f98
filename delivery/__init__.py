"""Service delivery: emergency requests and their alerts, the response clock, projects with their
estimates, approvals and change orders."""
