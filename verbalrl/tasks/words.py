"""An embedded list of common English words for the word-based tasks.

In scope: `COMMON_WORDS`, a fixed tuple of distinct, lowercase, purely
alphabetic words of 3 to 8 letters. Embedded (not downloaded) so problem
generation works offline and is identical on every machine; changing this
list changes every generated word problem, so only append to it.
"""

from __future__ import annotations

_RAW = """
able acid actor adult after agent album alarm alley alpha amber angle ankle apple
april arena army arrow artist aspect atom august aunt autumn avenue baby bacon
badge bakery ball banana band bank barrel basket battle beach bean bear beard
beauty bed bee beetle bell bench berry bicycle bird biscuit blade blanket block
blossom board boat body bone book border bottle bottom bowl box brain branch
bread breeze brick bridge brother brush bucket budget bullet bundle butter button
cabin cable cactus cake camera camp canal candle candy canvas captain car carbon
carpet carrot castle cattle cave ceiling cellar chain chair chalk channel cheese
cherry chest chicken child chimney circle city clay cliff clock cloud clover
coast coat coffee coin collar colony comet copper corner cotton couch country
cousin cowboy crayon cream creek cricket crystal cup curtain cushion daisy dance
dancer desert desk diamond dinner doctor dog dolphin donkey door dragon drawer
dream dress drum duck eagle earth echo eel egg elbow engine eraser evening
fabric face factory falcon family farm farmer father feather fence ferry field
finger fire fish flag flame flower flute fog forest fork fossil fountain fox
frame friend frog fruit galaxy garage garden garlic gate giant ginger giraffe
glass glove goat gold grape grass gravel guitar hammer harbor harvest hat hawk
heart hedge helmet hero hill honey horse hotel house island ivory jacket jelly
jewel journey judge juice jungle kettle key kidney king kitchen kite kitten
knife ladder lake lamp lantern lava lemon letter library lily lion lizard lobster
lock lunch magnet mango maple marble market meadow melon metal mirror monkey
moon morning mother motor mountain mouse muffin museum music needle nest
night noodle novel ocean office olive onion orange orbit orchard otter oven owl
paddle palace panda paper parrot pasta peach peanut pearl pencil pepper piano
picture pigeon pillow pilot planet plate pocket poem pony potato prince puzzle
pyramid quarry queen quilt rabbit radio rain rainbow raven record ribbon river
road robot rocket roof rope rose ruby saddle sailor salad salmon sand saucer
school scissors season shadow shark sheep shell shirt shoe shore silver singer
sister skate sky sled snake snow soap sock soldier soup spider spoon spring
square squirrel stable star station statue stone storm stream street sugar
summer sun sunset swan sweater table tail tea teacher temple tent thunder ticket
tiger timber toast tomato tooth tower town tractor train tree truck trumpet
tulip tunnel turtle umbrella uncle valley vase velvet village violin volcano
wagon wallet walnut water wave whale wheat wheel whistle window winter wizard
wolf wood yacht yard yellow yogurt zebra zero zipper
"""

# Why a set check: duplicates would bias sampling and could put one word twice in a problem.
COMMON_WORDS: tuple[str, ...] = tuple(_RAW.split())
assert len(set(COMMON_WORDS)) == len(COMMON_WORDS), "COMMON_WORDS has duplicates"
