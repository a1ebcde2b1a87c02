# Les mots des e-mails. Mêmes messages et mêmes variables que locales/en/mail.ftl : un test les
# compare.
#
# Variables que tout message peut employer :
#   $product  le nom du produit configuré par l’exploitant (RESETGATE_PRODUCT_NAME)
# Les liens et adresses ne font jamais partie d’un message : les gabarits les placent après la
# ligne qui les annonce, dans la partie texte comme dans la partie HTML.

## Le lien de réinitialisation
reset-subject = Réinitialisation de votre mot de passe
reset-intro = Quelqu’un a demandé à réinitialiser le mot de passe de votre compte { $product }.
# $minutes : la durée de validité du lien. Le lien suit sur sa propre ligne.
reset-open = { $minutes ->
    [one] Pour choisir un nouveau mot de passe, ouvrez ce lien d’ici { $minutes } minute :
   *[other] Pour choisir un nouveau mot de passe, ouvrez ce lien d’ici { $minutes } minutes :
}
reset-link = Choisir un nouveau mot de passe
reset-ignore = Le lien ne fonctionne qu’une fois. Si vous n’êtes pas à l’origine de cette demande, ignorez cet e-mail : votre mot de passe n’a pas changé.

## L’avis après un changement de mot de passe
changed-subject = Votre mot de passe a été changé
changed-body = Le mot de passe de votre compte { $product } vient d’être changé.
# La page où demander un lien de réinitialisation suit sur sa propre ligne.
changed-not-you = Si vous n’êtes pas à l’origine de ce changement, choisissez sans attendre un nouveau mot de passe sur cette page :
changed-link = Choisir un nouveau mot de passe
# Suivi du contact de l’assistance, s’il est configuré.
changed-support = Si vous n’êtes pas à l’origine de ce changement, contactez aussi l’assistance :

## L’avis d’une campagne après une fuite (il ne contient aucun jeton)
notice-subject = Action requise : choisissez un nouveau mot de passe
notice-body = Par précaution, à la suite d’un incident de sécurité, le mot de passe de votre compte { $product } a été désactivé.
# La page où demander un lien de réinitialisation suit sur sa propre ligne.
notice-open = Pour continuer à utiliser votre compte, choisissez un nouveau mot de passe sur cette page :
notice-link = Choisir un nouveau mot de passe
notice-safety = Si vous préférez, saisissez vous-même cette adresse dans votre navigateur : nous ne vous demanderons jamais votre mot de passe par e-mail. Pensez à activer la validation en deux étapes une fois votre accès rétabli.
# Suivi du contact de l’assistance, s’il est configuré.
notice-support = Une question ? Contactez l’assistance :

## Les changements du second facteur (aucun lien de ces e-mails ne connecte qui que ce soit)
mfa-enabled-subject = La validation en deux étapes est activée
mfa-enabled-body = La validation en deux étapes vient d’être activée pour votre compte { $product } : la connexion demande désormais aussi un code de votre application d’authentification.
mfa-removed-subject = La validation en deux étapes a été désactivée
mfa-removed-body = La validation en deux étapes vient d’être désactivée pour votre compte { $product } : la connexion ne demande plus que votre mot de passe.
recovery-used-subject = Un code de secours a été utilisé
recovery-used-body = L’un des codes de secours de votre compte { $product } vient d’être utilisé à la place d’un code de votre application d’authentification. Chaque code de secours ne fonctionne qu’une fois.
# La page où demander un lien de réinitialisation suit sur sa propre ligne.
factor-not-you = Si vous n’êtes pas à l’origine de cette action, quelqu’un connaît peut-être votre mot de passe : choisissez-en un nouveau sans attendre sur cette page :
