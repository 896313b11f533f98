"""One-time links that let someone choose a password.

Password-reset links (Django's ``default_token_generator``) live PASSWORD_RESET_TIMEOUT (an
hour); portal invitations, sent by staff to people who have no password yet, live
INVITATION_TIMEOUT (a week). The two are signed with different salts, so a reset link is never
accepted as an invitation.
"""

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.utils.crypto import constant_time_compare
from django.utils.http import base36_to_int


class InvitationTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "allora.tokens.InvitationTokenGenerator"

    def check_token(self, user, token):
        """Django's check (the user's password and last sign-in are part of the token, so it
        works once), with the invitation's own time limit."""
        if not (user and token):
            return False
        try:
            issued = base36_to_int(token.split("-")[0])
        except ValueError:
            return False
        if self._num_seconds(self._now()) - issued > settings.INVITATION_TIMEOUT:
            return False
        return any(
            constant_time_compare(self._make_token_with_timestamp(user, issued, secret), token)
            for secret in [self.secret, *self.secret_fallbacks]
        )


invitation_token_generator = InvitationTokenGenerator()
