# Les mots des pages derrière les liens envoyés par e-mail (/forgot, /reset, et les pages
# « service occupé », « trop de tentatives » et « demande refusée »). Mêmes messages et mêmes
# variables que locales/en/pages.ftl : un test les compare.
#
# Variables que tout message peut employer :
#   $product  le nom du produit configuré par l’exploitant (RESETGATE_PRODUCT_NAME)
# Les liens et adresses ne font jamais partie d’un message : les gabarits les placent à côté.

forgot-title = Réinitialiser votre mot de passe
forgot-intro = Saisissez l’adresse e-mail de votre compte { $product }. Nous y enverrons un lien pour choisir un nouveau mot de passe.
email-label = Adresse e-mail
forgot-submit = Envoyer le lien
invalid-email = Ceci ne ressemble pas à une adresse e-mail. Vérifiez-la et réessayez.

sent-title = Consultez vos e-mails
sent-body = Si un compte existe pour cette adresse, nous lui avons envoyé un lien pour choisir un nouveau mot de passe.
sent-hint = Le lien ne fonctionne qu’une fois et expire rapidement. Si rien n’arrive d’ici quelques minutes, vérifiez votre dossier de courrier indésirable.
sent-again = Recevoir un autre lien

reset-title = Choisissez un nouveau mot de passe
# $min et $max : les longueurs de la politique de mots de passe, en caractères.
policy = Utilisez au moins { $min } caractères (au plus { $max }). Évitez les mots de passe courants et ceux qui sont apparus dans des fuites de données. Tous les caractères sont acceptés : espaces, mots, symboles, et aucun n’est obligatoire.
account-label = Compte
password-label = Nouveau mot de passe
sign-out-label = Déconnecter tous les appareils
reset-submit = Changer le mot de passe
# Le champ du second facteur, affiché seulement pour un compte doté d’une application d’authentification.
code-label = Code de votre application d’authentification
code-hint = Les 6 chiffres affichés par votre application en ce moment. Vous avez perdu votre téléphone ? Saisissez plutôt l’un de vos codes de secours.
code-missing = Saisissez le code de votre application d’authentification, ou un code de secours.
code-wrong = Ce code est erroné ou a déjà été utilisé. Attendez le code suivant et réessayez.
code-malformed = Un code comporte 6 chiffres, et un code de secours 16 lettres et chiffres. Vérifiez votre saisie.
code-locked = Trop de codes erronés. Par sécurité, les codes ne sont plus vérifiés pendant un moment : réessayez dans 15 minutes. Votre lien reste valable jusqu’à son expiration.
too-short = Ce mot de passe est trop court : utilisez au moins { $min } caractères.
too-long = Ce mot de passe est trop long : utilisez au plus { $max } caractères.
blocklisted = Ce mot de passe est trop courant : il figure dans des listes de mots de passe divulgués. Choisissez-en un autre.
matches-email = Ce mot de passe est votre adresse e-mail. Choisissez-en un autre.

expired-title = Ce lien a expiré ou a déjà été utilisé
expired-body = Un lien de réinitialisation ne fonctionne qu’une fois, et pendant peu de temps. Vous pouvez en demander un nouveau.
expired-again = Obtenir un nouveau lien

done-title = Votre mot de passe a été changé
done-body = Vous pouvez maintenant vous connecter avec votre nouveau mot de passe. Nous vous avons aussi envoyé un e-mail à propos de ce changement.
done-signed-out = Tous les appareils ont été déconnectés ; reconnectez-vous sur chacun d’eux.
done-kept = Les appareils déjà connectés le restent.

start-over = Revenir au début
refused-title = Cette demande a été refusée
refused-body = Le formulaire n’a pas été envoyé depuis ce site. Ouvrez de nouveau la page et envoyez-le depuis celle-ci.
busy-title = Le service est très sollicité en ce moment
busy-body = Trop de personnes utilisent ce service en ce moment. Rien n’a été perdu.
limited-title = Trop de tentatives
limited-body = Il y a eu trop de tentatives en peu de temps. Veuillez patienter un instant.
# $secs : l’attente demandée par le serveur (Retry-After).
retry = { $secs ->
    [one] Cette page réessaiera d’elle-même dans { $secs } seconde.
   *[other] Cette page réessaiera d’elle-même dans { $secs } secondes.
}
in-line-title = Vous êtes dans la file d’attente
in-line-wait-seconds = Votre tour devrait venir dans moins d’une minute.
in-line-wait-minutes = { $minutes ->
    [one] Votre tour devrait venir dans environ { $minutes } minute.
   *[other] Votre tour devrait venir dans environ { $minutes } minutes.
}
in-line-ahead = { $ahead ->
    [0] Personne ne vous précède.
    [one] Environ { $ahead } personne vous précède.
   *[other] Environ { $ahead } personnes vous précèdent.
}
in-line-body = Beaucoup de personnes changent leur mot de passe en ce moment. Gardez cette page ouverte : vous gardez votre place, et les personnes arrivées après vous ne passeront pas avant.
in-line-asks-again = Quand votre tour viendra, votre nouveau mot de passe vous sera demandé à nouveau : nous ne le gardons pas pendant l’attente.
in-line-asks-password = Quand votre tour viendra, le formulaire de connexion s’ouvrira avec votre adresse e-mail déjà remplie : saisissez à nouveau votre mot de passe, car nous ne le gardons pas pendant l’attente.
in-line-now = Réessayer maintenant
error-title = Une erreur s’est produite
error-body = Nous n’avons pas pu traiter cette demande. Veuillez réessayer dans un instant.

# Le pied de page, suivi du contact de l’assistance (RESETGATE_SUPPORT_CONTACT) s’il est configuré.
footer-help = Besoin d’aide ? Contactez l’assistance :

# La connexion, et l’activation de la validation en deux étapes.
done-two-step = Protégez davantage votre compte : activez la validation en deux étapes.
done-two-step-on = La validation en deux étapes reste activée pour ce compte.
done-two-step-required-title = Encore une étape : activez la validation en deux étapes
done-two-step-required = { $product } exige désormais la validation en deux étapes pour votre compte. Tant qu’elle n’est pas activée, la connexion sert seulement à la configurer. Cela prend environ une minute et demande une application d’authentification sur votre téléphone.
done-two-step-start = Activer la validation en deux étapes
sign-in-title = Connexion
sign-in-intro = Connectez-vous pour gérer la validation en deux étapes de votre compte { $product }.
current-password-label = Mot de passe
sign-in-submit = Se connecter
sign-in-wrong = L’adresse e-mail ou le mot de passe est erroné. Si nous vous avons demandé de choisir un nouveau mot de passe, consultez vos e-mails : nous vous avons envoyé un lien.
sign-in-forgot = Mot de passe oublié ?
sign-in-code-title = Saisissez votre code
sign-in-expired = Cette connexion a pris trop de temps ou a déjà été utilisée. Reconnectez-vous.
two-step-title = Activer la validation en deux étapes
two-step-intro = Avec la validation en deux étapes, la connexion demande aussi un code d’une application sur votre téléphone : un mot de passe volé ne suffit plus.
two-step-scan = Scannez ce code avec une application d’authentification.
two-step-required = { $product } exige la validation en deux étapes pour votre compte. Tant qu’elle n’est pas activée, c’est la seule chose possible une fois connecté.
two-step-qr-label = QR code pour votre application d’authentification
two-step-type = Ou saisissez cette clé dans l’application :
two-step-confirm = Saisissez le code à 6 chiffres affiché par l’application pour confirmer.
two-step-submit = Activer
two-step-on-title = La validation en deux étapes est activée
two-step-on-body = La connexion à ce compte demande un code de votre application d’authentification.
sign-out-submit = Se déconnecter
signed-out = Vous êtes déconnecté. Sur un ordinateur partagé ou public, fermez aussi le navigateur.
recovery-intro = Enregistrez ces codes de secours dès maintenant, en lieu sûr. Chacun vous connecte une fois si vous perdez votre téléphone. Ils ne sont affichés qu’une seule fois.
recovery-keep = Imprimez-les ou gardez-les dans votre gestionnaire de mots de passe. Vous pourrez en créer une nouvelle série plus tard, ce qui annulera celle-ci.
