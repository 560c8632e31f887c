// The emoji the picker offers: common ones only, grouped as WhatsApp groups them, each with
// English and Spanish keywords for the search. One entry per line: `emoji|english|español`
// (keywords separated by commas). Written by hand; no dataset is downloaded.
export const EMOJI_CATEGORIES = [
  'smileys',
  'people',
  'animals',
  'food',
  'activities',
  'travel',
  'objects',
  'symbols',
] as const;
export type EmojiCategory = (typeof EMOJI_CATEGORIES)[number];

export const EMOJI_SOURCE: Record<EmojiCategory, string> = {
  smileys: `
😀|grinning face,smile,happy|cara sonriente,sonrisa,feliz
😃|smiley,happy,joy|sonrisa,feliz,alegre
😄|smile,laugh,happy|sonrisa,risa,feliz
😁|grin,beaming|sonrisa,dientes
😆|laughing,haha|risa,carcajada
😅|sweat smile,relief|sonrisa,sudor,alivio
🤣|rofl,rolling laughing|risa,carcajada,revolcarse
😂|joy,tears of joy,laugh|risa,lagrimas de risa,jaja
🙂|slight smile|sonrisa leve
🙃|upside down|al reves
😉|wink|guino
😊|blush,smiling eyes|sonrojado,sonrisa,ojos
😇|innocent,halo,angel|inocente,angel,aureola
🥰|love,hearts,adore|amor,corazones,enamorado
😍|heart eyes,love|ojos de corazon,amor,encanta
🤩|star struck,wow|estrellas,asombro,wow
😘|kiss,blow kiss|beso
😗|kissing|beso
😚|kissing closed eyes|beso,ojos cerrados
😋|yum,delicious|delicioso,rico,sabroso
😛|tongue|lengua
😜|wink tongue,crazy|guino,lengua,loco
🤪|zany,crazy|loco,chiflado
😝|squinting tongue|lengua,ojos cerrados
🤑|money mouth|dinero,plata
🤗|hug,hugging|abrazo
🤭|hand over mouth,oops|mano en la boca,ups
🤫|shush,quiet,secret|silencio,secreto
🤔|thinking,hmm|pensando,pensar,duda
🤐|zipper mouth,silent|boca cerrada,callado
🤨|raised eyebrow,skeptic|ceja levantada,esceptico
😐|neutral|neutral,serio
😑|expressionless|inexpresivo
😶|no mouth,speechless|sin boca,sin palabras
😏|smirk|sonrisa picara
😒|unamused|aburrido,molesto
🙄|eye roll|ojos en blanco
😬|grimace|mueca
😌|relieved|aliviado
😔|pensive,sad|pensativo,triste
😪|sleepy|somnoliento,sueno
🤤|drool|babear
😴|sleeping,zzz|dormido,dormir
😷|mask,sick|mascarilla,enfermo,cubrebocas
🤒|thermometer,fever,sick|fiebre,enfermo,termometro
🤕|bandage,hurt|vendaje,herido
🤢|nauseated|nauseas,asco
🤮|vomit|vomito
🤧|sneeze,cold|estornudo,resfriado
🥵|hot|calor,caliente
🥶|cold,freezing|frio,congelado
😵|dizzy|mareado
🤯|mind blown,exploding head|cabeza explotando,increible
🤠|cowboy|vaquero
🥳|party,celebrate|fiesta,celebrar
😎|cool,sunglasses|genial,lentes de sol
🤓|nerd,glasses|nerd,lentes
🧐|monocle|monoculo
😕|confused|confundido
😟|worried|preocupado
🙁|frown,slightly sad|triste
😮|open mouth,surprised|sorprendido,boca abierta
😯|hushed|asombrado
😲|astonished|asombrado
😳|flushed,embarrassed|sonrojado,avergonzado
🥺|pleading,please|suplicando,por favor
😦|frowning open mouth|ceno
😧|anguished|angustiado
😨|fearful|miedo,asustado
😰|anxious,sweat|ansioso,sudor
😥|sad relieved|triste,aliviado
😢|cry,crying,tear|llorar,lagrima,triste
😭|sob,loudly crying|llanto,llorar
😱|scream,fear|grito,miedo
😖|confounded|frustrado
😣|persevere|perseverante
😞|disappointed|decepcionado
😓|downcast sweat|sudor frio
😩|weary,tired|cansado,agotado
😫|tired|cansado
🥱|yawn,bored|bostezo,aburrido
😤|triumph,steam|resoplido,orgullo
😡|pout,angry,rage|enojado,furioso,rabia
😠|angry|enojado,enfadado
🤬|cursing,swearing|groserias,insultos
😈|devil,smiling imp|diablo,travieso
💀|skull,dead|calavera,muerto
💩|poop|caca
🤡|clown|payaso
👻|ghost|fantasma
👽|alien|extraterrestre,alien
🤖|robot|robot
😺|cat smile|gato sonriente
❤️|red heart,love|corazon rojo,amor
🧡|orange heart|corazon naranja
💛|yellow heart|corazon amarillo
💚|green heart|corazon verde
💙|blue heart|corazon azul
💜|purple heart|corazon morado
🖤|black heart|corazon negro
🤍|white heart|corazon blanco
💔|broken heart|corazon roto
💕|two hearts|dos corazones
💖|sparkling heart|corazon brillante
💯|hundred,perfect|cien,perfecto
💢|anger|enojo
💥|collision,boom|choque,explosion
💫|dizzy star|mareo,estrella
💬|speech balloon,chat|globo de texto,chat,mensaje
💤|zzz,sleep|dormir,sueno
`,
  people: `
👋|wave,hello,bye|saludo,hola,adios
🤚|raised back of hand|mano levantada
✋|raised hand,stop|mano,alto
🖐️|hand fingers splayed|mano abierta
👌|ok hand,perfect|ok,perfecto
🤌|pinched fingers|dedos juntos
🤏|pinching,small|pellizco,poquito
✌️|victory,peace|victoria,paz
🤞|crossed fingers,luck|dedos cruzados,suerte
🤟|love you gesture|te quiero
🤘|rock on,horns|rock,cuernos
🤙|call me|llamame
👈|point left|senalar izquierda
👉|point right|senalar derecha
👆|point up|senalar arriba
👇|point down|senalar abajo
☝️|index up|indice arriba
👍|thumbs up,like,yes,ok|pulgar arriba,me gusta,si,bien
👎|thumbs down,dislike,no|pulgar abajo,no me gusta,no
✊|raised fist|puno
👊|fist bump|puno,choque
👏|clap,applause|aplauso,aplaudir
🙌|raising hands,hooray|manos arriba,celebrar
👐|open hands|manos abiertas
🤲|palms up|palmas arriba
🤝|handshake,deal|apreton de manos,trato,acuerdo
🙏|pray,please,thanks|rezar,por favor,gracias
✍️|writing|escribir
💪|muscle,strong|musculo,fuerza,fuerte
👀|eyes,look|ojos,mirar
👁️|eye|ojo
👄|mouth|boca
🧠|brain|cerebro
👶|baby|bebe
🧒|child|nino
👦|boy|nino,chico
👧|girl|nina,chica
🧑|person|persona
👨|man|hombre
👩|woman|mujer
🧓|older person|persona mayor
👴|old man|anciano,abuelo
👵|old woman|anciana,abuela
🙋|raising hand|levantar la mano
🙅|no gesture|gesto no
🙆|ok gesture|gesto ok
💁|tipping hand,information|informacion
🤷|shrug,dont know|encogerse de hombros,no se
🤦|facepalm|palma en la cara
🙇|bow,sorry|reverencia,disculpa
👨‍💻|technologist,developer|programador,tecnologo
👩‍💼|office worker|oficinista
🧑‍🔧|mechanic|mecanico
🧑‍⚕️|health worker,doctor|medico,doctor,salud
👮|police|policia
🕵️|detective|detective
💃|dancer,dance|bailarina,bailar
🕺|man dancing|bailar
👫|couple|pareja
👪|family|familia
🗣️|speaking head|hablar
`,
  animals: `
🐶|dog|perro
🐱|cat|gato
🐭|mouse|raton
🐰|rabbit,bunny|conejo
🦊|fox|zorro
🐻|bear|oso
🐼|panda|panda
🐨|koala|koala
🐯|tiger|tigre
🦁|lion|leon
🐮|cow|vaca
🐷|pig|cerdo,cochino
🐸|frog|rana
🐵|monkey|mono
🙈|see no evil|no ver,mono
🙉|hear no evil|no oir,mono
🙊|speak no evil|no hablar,mono
🐔|chicken|gallina,pollo
🐧|penguin|pinguino
🐦|bird|pajaro,ave
🦆|duck|pato
🦅|eagle|aguila
🦉|owl|buho,tecolote
🐴|horse|caballo
🦄|unicorn|unicornio
🐝|bee|abeja
🦋|butterfly|mariposa
🐌|snail|caracol
🐞|lady beetle|mariquita,catarina
🐢|turtle|tortuga
🐍|snake|serpiente,vibora
🐙|octopus|pulpo
🐠|fish|pez
🐬|dolphin|delfin
🐳|whale|ballena
🌵|cactus|cactus,nopal
🌲|tree|arbol,pino
🌴|palm tree|palmera
🍀|four leaf clover,luck|trebol,suerte
🌷|tulip|tulipan
🌹|rose|rosa
🌻|sunflower|girasol
🌸|cherry blossom|flor de cerezo
💐|bouquet,flowers|ramo,flores
🌞|sun face|sol
🌙|moon|luna
⭐|star|estrella
🌟|glowing star|estrella brillante
✨|sparkles|destellos,brillos
⚡|lightning,high voltage|rayo,electricidad
🔥|fire,lit|fuego
🌈|rainbow|arcoiris
☀️|sun,sunny|sol,soleado
⛅|cloud sun|nublado,sol
☁️|cloud|nube
🌧️|rain|lluvia
⛈️|storm|tormenta
❄️|snowflake,snow|copo de nieve,nieve
🌊|wave,sea|ola,mar
💧|droplet,water|gota,agua
`,
  food: `
🍏|green apple|manzana verde
🍎|apple|manzana
🍐|pear|pera
🍊|orange|naranja
🍋|lemon|limon
🍌|banana|platano,banana
🍉|watermelon|sandia
🍇|grapes|uvas
🍓|strawberry|fresa
🍒|cherries|cerezas
🍑|peach|durazno,melocoton
🥭|mango|mango
🍍|pineapple|pina
🥥|coconut|coco
🥑|avocado|aguacate,palta
🍅|tomato|tomate,jitomate
🌶️|hot pepper,chili|chile,aji,picante
🌽|corn|maiz,elote
🥕|carrot|zanahoria
🥔|potato|papa,patata
🍞|bread|pan
🧀|cheese|queso
🥚|egg|huevo
🍳|cooking,fried egg|cocinar,huevo frito
🥓|bacon|tocino
🍔|hamburger,burger|hamburguesa
🍟|fries|papas fritas
🍕|pizza|pizza
🌭|hot dog|hot dog,perro caliente
🌮|taco|taco
🌯|burrito|burrito
🥗|salad|ensalada
🍝|spaghetti,pasta|espagueti,pasta
🍜|noodles,ramen|fideos,sopa
🍣|sushi|sushi
🍦|ice cream|helado,nieve
🍩|doughnut|dona
🍪|cookie|galleta
🎂|birthday cake|pastel de cumpleanos,torta
🍰|cake|pastel,torta
🍫|chocolate|chocolate
🍬|candy|dulce,caramelo
☕|coffee|cafe
🍵|tea|te
🥤|soda,drink|refresco,bebida
🍺|beer|cerveza
🍻|cheers beers|salud,cervezas
🍷|wine|vino
🥂|toast,champagne|brindis,champan
🍾|bottle popping|botella,celebrar
🧉|mate|mate
`,
  activities: `
⚽|soccer,football|futbol,balon
🏀|basketball|baloncesto,basquetbol
🏈|american football|futbol americano
⚾|baseball|beisbol
🎾|tennis|tenis
🏐|volleyball|voleibol
🏓|ping pong|ping pong
🥊|boxing|boxeo
🏆|trophy,winner|trofeo,ganador
🥇|gold medal,first|medalla de oro,primero
🥈|silver medal|medalla de plata
🥉|bronze medal|medalla de bronce
🏅|medal|medalla
🎯|target,bullseye|diana,objetivo
🎮|video game|videojuego
🎲|dice|dado
🧩|puzzle|rompecabezas
🎨|art,palette|arte,pintura
🎬|movie,clapper|cine,pelicula
🎤|microphone,sing|microfono,cantar
🎧|headphones|audifonos,auriculares
🎵|music note|nota musical,musica
🎶|music|musica
🎸|guitar|guitarra
🎹|piano|piano
🎉|party popper,celebration|fiesta,celebracion
🎊|confetti|confeti
🎁|gift,present|regalo
🎈|balloon|globo
🎄|christmas tree|arbol de navidad
🎃|jack o lantern,halloween|calabaza,halloween
🎟️|ticket|boleto,entrada
🏃|running|correr
🚴|cycling|bicicleta,ciclismo
🏊|swimming|nadar,natacion
🧘|yoga|yoga
`,
  travel: `
🚗|car|carro,coche,auto
🚕|taxi|taxi
🚌|bus|autobus,camion
🚑|ambulance|ambulancia
🚒|fire engine|bomberos
🚓|police car|patrulla
🚚|delivery truck|camion de reparto,entrega
🏍️|motorcycle|motocicleta,moto
🚲|bicycle|bicicleta
🛵|scooter|motoneta
✈️|airplane,flight|avion,vuelo
🚀|rocket|cohete
🚆|train|tren
🚇|metro,subway|metro,subterraneo
⛵|sailboat|velero
🚢|ship|barco
⛽|fuel,gas|gasolina,combustible
🚦|traffic light|semaforo
🚧|construction|construccion,obra
📍|pin,location|ubicacion,pin,lugar
🗺️|map|mapa
🧭|compass|brujula
🏠|house,home|casa,hogar
🏢|office building|oficina,edificio
🏥|hospital|hospital
🏦|bank|banco
🏨|hotel|hotel
🏪|store,shop|tienda
🏫|school|escuela
⛪|church|iglesia
🏖️|beach|playa
⛰️|mountain|montana
🌋|volcano|volcan
🏝️|island|isla
🌎|earth americas,world|tierra,mundo,america
🕐|one oclock,time|una en punto,hora
⏰|alarm clock|despertador,alarma
⌛|hourglass|reloj de arena
`,
  objects: `
📱|mobile phone,cell|celular,movil,telefono
💻|laptop,computer|computadora,laptop,portatil
🖥️|desktop computer|computadora
⌨️|keyboard|teclado
🖨️|printer|impresora
📷|camera|camara
📹|video camera|videocamara
📺|television,tv|television,tele
☎️|telephone|telefono
📞|telephone receiver,call|telefono,llamada
📠|fax|fax
🔋|battery|bateria,pila
🔌|plug|enchufe
💡|light bulb,idea|foco,bombilla,idea
🔦|flashlight|linterna
💵|dollar,money|dolar,dinero,billete
💰|money bag|bolsa de dinero
💳|credit card|tarjeta de credito
🧾|receipt|recibo,factura
✉️|envelope,email|sobre,correo
📧|email|correo electronico
📦|package,box|paquete,caja,envio
📝|memo,note|nota,apunte
📄|document,page|documento,pagina
📎|paperclip,attachment|clip,adjunto
📌|pushpin|chincheta,tachuela
✂️|scissors|tijeras
📅|calendar,date|calendario,fecha
📆|tear off calendar|calendario
📊|bar chart|grafica de barras
📈|chart increasing|grafica subiendo
📉|chart decreasing|grafica bajando
🗂️|card index dividers|separadores,carpeta
📁|folder|carpeta
🔒|locked|candado,cerrado
🔓|unlocked|abierto
🔑|key|llave
🔨|hammer|martillo
🔧|wrench|llave inglesa
⚙️|gear,settings|engrane,configuracion
🧰|toolbox|caja de herramientas
💊|pill|pastilla,medicina
🩺|stethoscope|estetoscopio
🛒|shopping cart|carrito de compras
🛍️|shopping bags|bolsas de compras
🔔|bell,notification|campana,notificacion
📣|megaphone|megafono
⏳|hourglass flowing|reloj de arena
⏱️|stopwatch|cronometro
`,
  symbols: `
✅|check mark button,done|hecho,listo,palomita
✔️|check mark|palomita,correcto
☑️|check box|casilla marcada
❌|cross mark,no|equis,no,error
❎|cross mark button|equis
❗|exclamation|exclamacion,importante
❓|question|pregunta,interrogacion
‼️|double exclamation|doble exclamacion
⁉️|exclamation question|exclamacion pregunta
⚠️|warning|advertencia,cuidado
🚫|prohibited|prohibido
⛔|no entry|no pasar,prohibido
🆗|ok button|ok
🆕|new|nuevo
🆓|free|gratis
🆘|sos|auxilio,sos
ℹ️|information|informacion
➕|plus|mas,sumar
➖|minus|menos,restar
➡️|right arrow|flecha derecha
⬅️|left arrow|flecha izquierda
⬆️|up arrow|flecha arriba
⬇️|down arrow|flecha abajo
🔄|arrows counterclockwise,refresh|actualizar,repetir
🔁|repeat|repetir
🔝|top|arriba
🔴|red circle|circulo rojo
🟢|green circle|circulo verde
🔵|blue circle|circulo azul
🟡|yellow circle|circulo amarillo
⚫|black circle|circulo negro
⚪|white circle|circulo blanco
🔶|orange diamond|rombo naranja
💲|dollar sign|signo de dolar
©️|copyright|derechos de autor
®️|registered|registrado
™️|trade mark|marca
#️⃣|number sign,hash|numeral,gato
*️⃣|asterisk|asterisco
0️⃣|zero|cero
1️⃣|one|uno
2️⃣|two|dos
3️⃣|three|tres
🔟|ten|diez
🇲🇽|mexico flag|bandera de mexico
🇦🇷|argentina flag|bandera de argentina
🇨🇴|colombia flag|bandera de colombia
🇨🇱|chile flag|bandera de chile
🇵🇪|peru flag|bandera de peru
🇨🇷|costa rica flag|bandera de costa rica
🇧🇷|brazil flag|bandera de brasil
🇪🇸|spain flag|bandera de espana
🇺🇸|united states flag|bandera de estados unidos
🏳️|white flag|bandera blanca
🏁|checkered flag|bandera a cuadros
`,
};
