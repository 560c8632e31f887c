// Spanish (primary) UI texts. Labels follow the seed manuals (Llamadas, Historial, Ignorar…).
// `en.ts` must have exactly the same keys (the type and a test enforce it).
export const es = {
  'app.name': 'Enlace',
  'app.demoRibbon': 'Datos de demostración — no conectado a la aplicación',
  'app.sections': 'Secciones',
  'app.loadFailed': 'No se pudo cargar la información de la aplicación: {error}',
  'app.startupProblems': 'Enlace arrancó con problemas',
  'app.startupProblemsDismiss': 'Cerrar el aviso',

  'nav.calls': 'Llamadas',
  'nav.dialer': 'Marcar',
  'nav.omnichannel': 'Omnicanalidad',
  'nav.contacts': 'Contactos',
  'nav.history': 'Historial',
  'nav.management': 'Gestión',
  'nav.pauses': 'Pausas',
  'nav.settings': 'Configuración',
  'nav.pendingChats': '{count} chats pendientes',

  'line.online': 'Línea telefónica conectada',
  'line.connecting': 'Línea telefónica conectando…',
  'line.offline': 'Línea telefónica sin conexión (reintentando)',
  'line.none': 'Sin línea telefónica configurada',
  'line.unknown': 'Estado de la línea desconocido',

  'direction.incoming': 'Entrante',
  'direction.outgoing': 'Saliente',

  'endReason.completed': 'Completada',
  'endReason.busy': 'Ocupado',
  'endReason.no_answer': 'Sin respuesta',
  'endReason.rejected': 'Rechazada',
  'endReason.line_lost': 'Línea perdida',
  'endReason.failed': 'Fallida',

  'units.seconds': '{count} s',

  'crm.notLinked': 'CRM todavía no vinculado',

  'calls.title': 'Llamadas',
  'calls.subtitle': 'Llamadas por registrar, de la más reciente a la más antigua.',
  'calls.empty': 'No hay llamadas por registrar.',
  'calls.crmNotice':
    'El CRM todavía no está conectado: por ahora no se pueden buscar contactos ni registrar llamadas con Asunto y Comentario. Las llamadas quedan guardadas aquí.',
  'calls.date': 'Fecha',
  'calls.time': 'Hora',
  'calls.duration': 'Duración',
  'calls.contact': 'Contacto',
  'calls.dialNumber': 'Llamar a {number}',
  'calls.ignore': 'Ignorar',
  'calls.ignoreCall': 'Ignorar la llamada con {number}',
  'calls.search': 'Buscar',
  'calls.newContact': 'Nuevo contacto',
  'calls.subject': 'Asunto',
  'calls.comment': 'Comentario',
  'calls.save': 'Salvar',

  'history.title': 'Historial',
  'history.empty': 'Todavía no hay llamadas.',
  'history.when': 'Fecha y hora',
  'history.duration': 'Duración (s)',
  'history.type': 'Tipo',
  'history.from': 'De',
  'history.to': 'Para',
  'history.end': 'Fin',
  'history.actions': 'Acciones',
  'history.inProgress': 'En curso',
  'history.view': 'Ver',
  'history.ignored': 'Ignorada',

  'dialer.title': 'Realizar una llamada',
  'dialer.subtitle':
    'Marca un número o una extensión. Los enlaces tel: y callto: de cualquier programa también llaman por esta línea.',
  'dialer.input': 'Número o extensión',
  'dialer.call': 'Llamar',
  'dialer.backspace': 'Borrar el último carácter',
  'dialer.keypad': 'Teclado',
  'dialer.star': 'Asterisco',
  'dialer.hash': 'Numeral',
  'dialer.dialing': 'Llamando a {number}…',
  'dialer.linkFailed': 'Un enlace de otra aplicación no se pudo marcar.',

  'incoming.title': 'Llamada entrante',
  'incoming.unknownName': 'Contacto desconocido',
  'incoming.answer': 'Contestar',
  'incoming.reject': 'Rechazar',

  'active.ringing': 'Llamando…',
  'active.connected': 'En llamada',
  'active.hangup': 'Colgar',
  'active.elapsed': 'Tiempo de llamada',

  'settings.title': 'Configuración',
  'settings.lineSection': 'Línea telefónica',
  'settings.lineKind': 'Cómo se hacen las llamadas',
  'settings.lineKind.none': 'Ninguna',
  'settings.lineKind.baresip': 'baresip (teléfono SIP en este equipo)',
  'settings.lineKind.hand_off': 'Entregar a otra aplicación',
  'settings.baresipSection': 'baresip',
  'settings.ctrlAddress': 'Dirección de control (ctrl_tcp)',
  'settings.sipDomain': 'Dominio SIP',
  'settings.handOffSection': 'Entregar a otra aplicación',
  'settings.handOffMode': 'Modo',
  'settings.handOffMode.uri': 'Abrir un enlace',
  'settings.handOffMode.program': 'Ejecutar un programa',
  'settings.handOffUri': 'Plantilla del enlace',
  'settings.handOffUriHint': '{number} se reemplaza por el número marcado, p. ej. sip:{number}',
  'settings.handOffProgram': 'Programa',
  'settings.usedWhen': 'Se usa cuando la línea es «{kind}».',
  'settings.generalSection': 'General',
  'settings.country': 'País predeterminado',
  'settings.countryHint':
    'Código de 2 letras para números sin prefijo internacional, p. ej. CR, MX, CO.',
  'settings.countryInvalid': 'Escribe un código de país de 2 letras, p. ej. CR.',
  'settings.invalid.defaultCountry': 'Escribe un código de país de 2 letras, p. ej. CR.',
  'settings.invalid.baresipCtrlAddress':
    'Escribe una dirección IP con su puerto, p. ej. 127.0.0.1:4444.',
  'settings.invalid.baresipSipDomain':
    'Escribe un nombre de servidor, con o sin puerto, p. ej. pbx.example.com o 127.0.0.1:5060.',
  'settings.invalid.handOffUriTemplate':
    'La plantilla debe contener {number}, p. ej. sip:{number}.',
  'settings.invalid.handOffProgram':
    'Escribe la ruta completa del programa, p. ej. /usr/bin/linphone.',
  'settings.language': 'Idioma',
  'settings.language.auto': 'Automático (idioma del sistema)',
  'settings.language.es': 'Español',
  'settings.language.en': 'English',
  'settings.notifications': 'Notificaciones de escritorio (llamadas entrantes)',
  'settings.save': 'Salvar',
  'settings.saved': 'Configuración guardada.',
  'settings.handlerSection': 'Enlaces tel: y callto:',
  'settings.handlerIntro':
    'Al hacer clic en un número en el CRM, una página web o un documento, el sistema lo abre con la aplicación registrada para tel: o callto:.',
  'settings.handlerRegistered': 'Enlace está registrado',
  'settings.handlerNotRegistered': 'Enlace no está registrado',
  'settings.handlerRegister': 'Registrar Enlace como aplicación para tel: y callto:',
  'settings.handlerCheck': 'Comprobar de nuevo',
  'settings.handlerCannot': 'Este sistema no permite registrarlo desde aquí.',
  'settings.crmSection': 'CRM (Salesforce o Zoho CRM)',
  'settings.crmNotConnected':
    'La vinculación con Salesforce y Zoho CRM todavía no está conectada en esta versión. Mientras tanto, las funciones del CRM (buscar contactos, crear contactos, registrar llamadas, Ver) están desactivadas.',
  'settings.aboutSection': 'Acerca de',
  'settings.version': 'Versión {version} ({channel})',
  'settings.dataDir': 'Carpeta de datos: {dir}',

  'notConnected.title': 'Todavía no conectado',
  'notConnected.omnichannel':
    'La bandeja de WhatsApp todavía no está conectada en esta versión. Cuando lo esté, aquí aparecerán las conversaciones abiertas con su contador de mensajes pendientes.',
  'notConnected.contacts':
    'La búsqueda de contactos necesita un CRM vinculado, y la vinculación todavía no está conectada en esta versión.',
  'notConnected.management':
    'El resumen del día (llamadas, tiempo hablado, pausas, chats atendidos) todavía no está conectado en esta versión.',
  'notConnected.pauses':
    'Las pausas las configura la organización en su servidor, y esa conexión todavía no existe en esta versión.',

  'errors.empty': 'Escribe un número para llamar.',
  'errors.too_long': 'El texto es demasiado largo.',
  'errors.control_character': 'El texto contiene caracteres no válidos.',
  'errors.unsupported_scheme': 'Ese tipo de enlace no se puede marcar (solo tel:, callto: y sip:).',
  'errors.forbidden_character':
    'El enlace contiene caracteres que nunca forman parte de un número de teléfono; no se marcó.',
  'errors.invalid_extension': 'La extensión no es válida.',
  'errors.handler_failed':
    'No se pudo registrar Enlace para los enlaces tel: y callto:. Revise que xdg-utils esté instalado.',
  'errors.not_a_phone_number': 'Eso no parece un número de teléfono.',
  'errors.invalid_number': 'El número no es válido para el país indicado.',
  'errors.invalid_country': 'El código de país no es válido.',
  'errors.line_offline': 'La línea telefónica no está conectada.',
  'errors.line_timeout': 'La línea telefónica no respondió a tiempo.',
  'errors.line_rejected': 'La línea telefónica rechazó la llamada.',
  'errors.no_active_call': 'Esa llamada ya no está activa.',
  'errors.hand_off_failed': 'No se pudo abrir la otra aplicación para llamar.',
  'errors.storage': 'No se pudieron guardar o leer los datos locales.',
  'errors.invalid_setting':
    'Algún valor de la configuración no es válido. Revísalo e inténtalo de nuevo.',
  'errors.not_found': 'No se encontró el elemento.',
  'errors.internal': 'Ocurrió un error interno.',
  'errors.unknown': 'Ocurrió un error inesperado ({code}).',
} satisfies Record<string, string>;

export type MessageKey = keyof typeof es;
