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
notice-safety = Vous pouvez aussi saisir l’adresse vous-même : nous ne vous demanderons jamais votre mot de passe par e-mail. Pensez à activer la validation en deux étapes une fois votre accès rétabli.
# Suivi du contact de l’assistance, s’il est configuré.
notice-support = Une question ? Contactez l’assistance :
