# The words of the emails. Every locale has the same messages with the same variables; a test
# compares them.
#
# Variables every message may use:
#   $product  the operator's product name (RESETGATE_PRODUCT_NAME)
# Links and addresses are never part of a message: the templates put them after the line that
# introduces them, in the text and the HTML part alike.

## The reset link
reset-subject = Reset your password
reset-intro = Someone asked to reset the password of your { $product } account.
# $minutes: how long the link stays valid. The link follows on its own line.
reset-open = { $minutes ->
    [one] To choose a new password, open this link within { $minutes } minute:
   *[other] To choose a new password, open this link within { $minutes } minutes:
}
reset-link = Choose a new password
reset-ignore = The link works once. If you did not ask for this, ignore this email: your password has not changed.

## The notice after a password change
changed-subject = Your password was changed
changed-body = The password of your { $product } account was just changed.
# The page to ask for a reset link follows on its own line.
changed-not-you = If this was not you, choose a new password right away on this page:
changed-link = Choose a new password
# Followed by the support contact, when one is configured.
changed-support = If this was not you, also contact support:

## The breach-day campaign notice (it carries no token)
notice-subject = Action required: choose a new password
notice-body = As a precaution after a security incident, the password of your { $product } account has been disabled.
# The page to ask for a reset link follows on its own line.
notice-open = To keep using your account, choose a new password on this page:
notice-link = Choose a new password
notice-safety = Type the address yourself if you prefer: we will never ask for your password by email. Consider turning on two-factor authentication once you are back in.
# Followed by the support contact, when one is configured.
notice-support = Questions? Contact support:

## Changes to the second factor (no link in these signs anyone in)
mfa-enabled-subject = Two-step verification is on
mfa-enabled-body = Two-step verification was just turned on for your { $product } account: signing in now also asks for a code from an authenticator app.
mfa-removed-subject = Two-step verification was turned off
mfa-removed-body = Two-step verification was just turned off for your { $product } account: signing in now asks only for your password.
recovery-used-subject = A recovery code was used
recovery-used-body = One of the recovery codes of your { $product } account was just used instead of a code from your authenticator app. Each recovery code works once.
# The page where to ask for a reset link follows on its own line.
factor-not-you = If this was not you, someone may know your password: choose a new one right away on this page:
