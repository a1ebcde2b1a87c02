# The words of the pages behind the emailed links (/forgot, /reset, and the busy, limited and
# refused pages). Every locale has the same messages with the same variables; a test compares them.
#
# Variables every message may use:
#   $product  the operator's product name (RESETGATE_PRODUCT_NAME)
# Links and addresses are never part of a message: the templates put them next to it.

forgot-title = Reset your password
forgot-intro = Enter the email address of your { $product } account. We will send it a link to choose a new password.
email-label = Email address
forgot-submit = Send the link
invalid-email = This does not look like an email address. Check it and try again.

sent-title = Check your email
sent-body = If an account exists for this address, we sent it a link to choose a new password.
sent-hint = The link works once and expires soon. If nothing arrives in a few minutes, check your spam folder.
sent-again = Send another link

reset-title = Choose a new password
# $min and $max: the password policy's lengths, in characters.
policy = Use at least { $min } characters (at most { $max }). Avoid common passwords and passwords that appeared in data breaches. Any characters are fine: spaces, words, symbols, or none of them.
account-label = Account
password-label = New password
sign-out-label = Sign out of all devices
reset-submit = Change password
# The second-factor field, shown only for an account with an authenticator app.
code-label = Code from your authenticator app
code-hint = The 6 digits your app shows now. Lost your phone? Type one of your recovery codes instead.
code-missing = Enter the code from your authenticator app, or a recovery code.
code-wrong = This code is wrong or was already used. Wait for the next code and try again.
code-malformed = A code is 6 digits, and a recovery code is 16 letters and digits. Check what you typed.
code-locked = Too many wrong codes. For your safety, codes are not checked for a while: try again in 15 minutes. Your link still works until it expires.
too-short = This password is too short: use at least { $min } characters.
too-long = This password is too long: use at most { $max } characters.
blocklisted = This password is too common: it appears in lists of breached passwords. Choose another one.
matches-email = This password is your email address. Choose another one.

expired-title = This link has expired or was already used
expired-body = Reset links work once and only for a short time. You can ask for a new one.
expired-again = Get a new link

done-title = Your password has been changed
done-body = You can now sign in with your new password. We also sent you an email about this change.
done-signed-out = All devices were signed out; sign in again on each.
done-kept = Devices that were signed in stay signed in.

start-over = Back to the start
refused-title = This request was refused
refused-body = The form was not sent from this site. Open the page again and send it from there.
busy-title = We are very busy right now
busy-body = Too many people are using this service at the moment. Nothing was lost.
limited-title = Too many attempts
limited-body = There have been too many attempts in a short time. Please wait a moment.
# $secs: the wait the server asked for (Retry-After).
retry = { $secs ->
    [one] This page will try again by itself in { $secs } second.
   *[other] This page will try again by itself in { $secs } seconds.
}
# The waiting room: hashing capacity is full and this person has a place in line.
in-line-title = You're in line
in-line-wait-seconds = Your turn should come in less than a minute.
# $minutes: the announced wait, rounded up.
in-line-wait-minutes = { $minutes ->
    [one] Your turn should come in about { $minutes } minute.
   *[other] Your turn should come in about { $minutes } minutes.
}
# $ahead: people before you in this server's line.
in-line-ahead = { $ahead ->
    [0] Nobody is ahead of you.
    [one] About { $ahead } person is ahead of you.
   *[other] About { $ahead } people are ahead of you.
}
in-line-body = Many people are changing their password right now. Keep this page open: you keep your place, and people who came after you will not go first.
in-line-asks-again = When your turn comes, you will be asked for your new password again: we do not keep it while you wait.
in-line-asks-password = When your turn comes, the sign-in form opens with your email address already filled in: type your password again, as we do not keep it while you wait.
in-line-now = Try now
error-title = Something went wrong
error-body = We could not complete this request. Please try again in a moment.

# The footer, followed by the support contact (RESETGATE_SUPPORT_CONTACT) when one is configured.
footer-help = Need help? Contact support:

# Signing in, and turning on two-step verification.
done-two-step = Protect your account further: turn on two-step verification.
done-two-step-on = Two-step verification stays on for this account.
# After a forced reset whose campaign requires a second factor: the next step, not an option.
done-two-step-required-title = One more step: turn on two-step verification
done-two-step-required = { $product } now requires two-step verification for your account. Until it is on, signing in only lets you set it up. It takes about a minute and needs an authenticator app on your phone.
done-two-step-start = Turn on two-step verification
sign-in-title = Sign in
sign-in-intro = Sign in to manage two-step verification for your { $product } account.
current-password-label = Password
sign-in-submit = Sign in
sign-in-wrong = The email address or the password is wrong. If we asked you to choose a new password, check your email: we have sent you a link.
sign-in-forgot = Forgot your password?
sign-in-code-title = Enter your code
sign-in-expired = This sign-in took too long or was already used. Sign in again.
two-step-title = Turn on two-step verification
two-step-intro = With two-step verification, signing in also asks for a code from an app on your phone, so a stolen password alone is not enough.
two-step-scan = Scan this code with an authenticator app.
two-step-required = { $product } requires two-step verification for your account. Until it is on, this is the only thing you can do while signed in.
two-step-qr-label = QR code for your authenticator app
two-step-type = Or type this key into the app:
two-step-confirm = Enter the 6-digit code the app shows to confirm.
two-step-submit = Turn on
two-step-on-title = Two-step verification is on
two-step-on-body = Signing in to this account asks for a code from your authenticator app.
sign-out-submit = Sign out
signed-out = You are signed out. On a shared or public computer, close the browser too.
recovery-intro = Save these recovery codes now, somewhere safe. Each one signs you in once if you lose your phone. They are shown only this once.
recovery-keep = Print them or keep them in your password manager. You can make a new set later, which voids these.
