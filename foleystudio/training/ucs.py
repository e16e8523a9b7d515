"""The Universal Category System (UCS) table and file-name parser.

UCS (universalcategorysystem.com) names a sound file ``CatID_FXName_CreatorID_SourceID[_UserData]``,
where CatID is a short code such as ``DOORWood`` that stands for a (Category, SubCategory) pair,
here ("DOORS", "WOOD"). Many commercial and in-house libraries follow it, so a UCS name is a good
caption source when a file has no sidecar or embedded description.

The table below is written from the published UCS v8 list of main categories and their common
sub-category CatIDs. It is not the complete list: an unknown CatID whose upper-case prefix is a
known category's (``DOORWeird``) still resolves to that category with an empty sub-category, so a
missing row costs only the sub-category. Note the real prefixes: footsteps are ``FEET``, fight is
``FGHT``, guns ``GUN``, human ``HMN``, leather ``LETH``, magic ``MAG``, sci-fi ``SCI``, trains ``TRN``,
cartoon ``TOON`` and aircraft ``AERO``. CatIDs are matched case-insensitively.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# CatID -> (Category, SubCategory)
UCS_CATEGORIES: dict[str, tuple[str, str]] = {
    # AIR
    "AIRBrst": ("AIR", "BURST"),
    "AIRHiss": ("AIR", "HISS"),
    "AIRMisc": ("AIR", "MISC"),
    "AIRSuck": ("AIR", "SUCTION"),
    # AIRCRAFT
    "AERODoor": ("AIRCRAFT", "DOOR"),
    "AEROHeli": ("AIRCRAFT", "HELICOPTER"),
    "AEROInt": ("AIRCRAFT", "INTERIOR"),
    "AEROJet": ("AIRCRAFT", "JET"),
    "AEROMech": ("AIRCRAFT", "MECHANISM"),
    "AEROMil": ("AIRCRAFT", "MILITARY"),
    "AEROMisc": ("AIRCRAFT", "MISC"),
    "AEROProp": ("AIRCRAFT", "PROPELLER"),
    "AERORadio": ("AIRCRAFT", "RADIO CONTROLLED"),
    "AERORckt": ("AIRCRAFT", "ROCKET"),
    # ALARMS
    "ALRMBell": ("ALARMS", "BELL"),
    "ALRMBuzr": ("ALARMS", "BUZZER"),
    "ALRMClock": ("ALARMS", "CLOCK"),
    "ALRMElec": ("ALARMS", "ELECTRONIC"),
    "ALRMMisc": ("ALARMS", "MISC"),
    "ALRMSirn": ("ALARMS", "SIREN"),
    # AMBIENCE
    "AMBAir": ("AMBIENCE", "AIR"),
    "AMBAmus": ("AMBIENCE", "AMUSEMENT"),
    "AMBBird": ("AMBIENCE", "BIRDSONG"),
    "AMBCele": ("AMBIENCE", "CELEBRATION"),
    "AMBCnst": ("AMBIENCE", "CONSTRUCTION"),
    "AMBDsgn": ("AMBIENCE", "DESIGNED"),
    "AMBDsrt": ("AMBIENCE", "DESERT"),
    "AMBEmrg": ("AMBIENCE", "EMERGENCY"),
    "AMBFant": ("AMBIENCE", "FANTASY"),
    "AMBFarm": ("AMBIENCE", "FARM"),
    "AMBForst": ("AMBIENCE", "FOREST"),
    "AMBHist": ("AMBIENCE", "HISTORICAL"),
    "AMBHosp": ("AMBIENCE", "HOSPITAL"),
    "AMBInd": ("AMBIENCE", "INDUSTRIAL"),
    "AMBMisc": ("AMBIENCE", "MISC"),
    "AMBMrkt": ("AMBIENCE", "MARKET"),
    "AMBNaut": ("AMBIENCE", "NAUTICAL"),
    "AMBOffc": ("AMBIENCE", "OFFICE"),
    "AMBPark": ("AMBIENCE", "PARK"),
    "AMBPrsn": ("AMBIENCE", "PRISON"),
    "AMBPubl": ("AMBIENCE", "PUBLIC PLACE"),
    "AMBRest": ("AMBIENCE", "RESTAURANT & BAR"),
    "AMBRoom": ("AMBIENCE", "ROOM TONE"),
    "AMBRurl": ("AMBIENCE", "RURAL"),
    "AMBSchl": ("AMBIENCE", "SCHOOL"),
    "AMBScif": ("AMBIENCE", "SCIFI"),
    "AMBSprt": ("AMBIENCE", "SPORTS"),
    "AMBSubn": ("AMBIENCE", "SUBURBAN"),
    "AMBSwmp": ("AMBIENCE", "SWAMP"),
    "AMBTown": ("AMBIENCE", "TOWN"),
    "AMBTraf": ("AMBIENCE", "TRAFFIC"),
    "AMBTran": ("AMBIENCE", "TRANSPORTATION"),
    "AMBTrop": ("AMBIENCE", "TROPICAL"),
    "AMBUndr": ("AMBIENCE", "UNDERGROUND"),
    "AMBUndwtr": ("AMBIENCE", "UNDERWATER"),
    "AMBUrbn": ("AMBIENCE", "URBAN"),
    "AMBWar": ("AMBIENCE", "WARFARE"),
    # ANIMALS
    "ANMLAmph": ("ANIMALS", "AMPHIBIAN"),
    "ANMLAqua": ("ANIMALS", "AQUATIC"),
    "ANMLBat": ("ANIMALS", "BAT"),
    "ANMLCat": ("ANIMALS", "CAT DOMESTIC"),
    "ANMLCatWild": ("ANIMALS", "CAT WILD"),
    "ANMLDog": ("ANIMALS", "DOG"),
    "ANMLFarm": ("ANIMALS", "FARM"),
    "ANMLHorse": ("ANIMALS", "HORSE"),
    "ANMLInsct": ("ANIMALS", "INSECT"),
    "ANMLMisc": ("ANIMALS", "MISC"),
    "ANMLPrim": ("ANIMALS", "PRIMATE"),
    "ANMLRept": ("ANIMALS", "REPTILE"),
    "ANMLRodn": ("ANIMALS", "RODENT"),
    "ANMLWild": ("ANIMALS", "WILD"),
    # BEEPS
    "BEEPAppl": ("BEEPS", "APPLIANCE"),
    "BEEPLofi": ("BEEPS", "LOFI"),
    "BEEPMisc": ("BEEPS", "MISC"),
    "BEEPTimer": ("BEEPS", "TIMER"),
    "BEEPVeh": ("BEEPS", "VEHICLE"),
    # BELLS
    "BELLAnml": ("BELLS", "ANIMAL"),
    "BELLDoor": ("BELLS", "DOOR"),
    "BELLGong": ("BELLS", "GONG"),
    "BELLHand": ("BELLS", "HANDBELL"),
    "BELLMisc": ("BELLS", "MISC"),
    "BELLReli": ("BELLS", "RELIGIOUS"),
    # BIRDS
    "BIRDCrow": ("BIRDS", "CROW"),
    "BIRDFowl": ("BIRDS", "FOWL"),
    "BIRDMisc": ("BIRDS", "MISC"),
    "BIRDPrey": ("BIRDS", "PREY"),
    "BIRDSea": ("BIRDS", "SEABIRD"),
    "BIRDSong": ("BIRDS", "SONGBIRD"),
    "BIRDTrop": ("BIRDS", "TROPICAL"),
    "BIRDWade": ("BIRDS", "WADING"),
    "BIRDWatr": ("BIRDS", "WATERFOWL"),
    # BOATS
    "BOATAir": ("BOATS", "AIR BOAT"),
    "BOATDoor": ("BOATS", "DOOR"),
    "BOATElec": ("BOATS", "ELECTRIC"),
    "BOATFish": ("BOATS", "FISHING"),
    "BOATInt": ("BOATS", "INTERIOR"),
    "BOATMech": ("BOATS", "MECHANISM"),
    "BOATMil": ("BOATS", "MILITARY"),
    "BOATMisc": ("BOATS", "MISC"),
    "BOATMotr": ("BOATS", "MOTORBOAT"),
    "BOATRace": ("BOATS", "RACING"),
    "BOATRow": ("BOATS", "ROWBOAT"),
    "BOATSail": ("BOATS", "SAILBOAT"),
    "BOATShip": ("BOATS", "SHIP"),
    "BOATStm": ("BOATS", "STEAM"),
    "BOATSub": ("BOATS", "SUBMARINE"),
    "BOATWash": ("BOATS", "WASH"),
    # BULLETS
    "BULLTBy": ("BULLETS", "BY"),
    "BULLTImpt": ("BULLETS", "IMPACT"),
    "BULLTMisc": ("BULLETS", "MISC"),
    "BULLTRico": ("BULLETS", "RICOCHET"),
    "BULLTShell": ("BULLETS", "SHELL"),
    # CARTOON
    "TOONBoing": ("CARTOON", "BOING"),
    "TOONClang": ("CARTOON", "CLANG"),
    "TOONCreak": ("CARTOON", "CREAK"),
    "TOONImpt": ("CARTOON", "IMPACT"),
    "TOONMisc": ("CARTOON", "MISC"),
    "TOONMx": ("CARTOON", "MUSICAL"),
    "TOONPop": ("CARTOON", "POP"),
    "TOONSplt": ("CARTOON", "SPLAT"),
    "TOONSqk": ("CARTOON", "SQUEAK"),
    "TOONStrch": ("CARTOON", "STRETCH"),
    "TOONSwsh": ("CARTOON", "SWISH"),
    "TOONWhstl": ("CARTOON", "WHISTLE"),
    "TOONZip": ("CARTOON", "ZIP"),
    # CERAMICS
    "CERMBrk": ("CERAMICS", "BREAK"),
    "CERMImpt": ("CERAMICS", "IMPACT"),
    "CERMMisc": ("CERAMICS", "MISC"),
    "CERMMvmt": ("CERAMICS", "MOVEMENT"),
    "CERMTonl": ("CERAMICS", "TONAL"),
    # CHAINS
    "CHAINBrk": ("CHAINS", "BREAK"),
    "CHAINDrop": ("CHAINS", "DROP"),
    "CHAINImpt": ("CHAINS", "IMPACT"),
    "CHAINMisc": ("CHAINS", "MISC"),
    "CHAINMvmt": ("CHAINS", "MOVEMENT"),
    # CHEMICALS
    "CHEMAcid": ("CHEMICALS", "ACID"),
    "CHEMBurn": ("CHEMICALS", "BURN"),
    "CHEMFizz": ("CHEMICALS", "FIZZ"),
    "CHEMMisc": ("CHEMICALS", "MISC"),
    # CLOCKS
    "CLOCKChim": ("CLOCKS", "CHIME"),
    "CLOCKMech": ("CLOCKS", "MECHANICS"),
    "CLOCKMisc": ("CLOCKS", "MISC"),
    "CLOCKTick": ("CLOCKS", "TICK"),
    # CLOTH
    "CLOTHFlap": ("CLOTH", "FLAP"),
    "CLOTHHndl": ("CLOTH", "HANDLE"),
    "CLOTHImpt": ("CLOTH", "IMPACT"),
    "CLOTHMisc": ("CLOTH", "MISC"),
    "CLOTHMvmt": ("CLOTH", "MOVEMENT"),
    "CLOTHRip": ("CLOTH", "RIP"),
    # COMMUNICATIONS
    "COMMCell": ("COMMUNICATIONS", "CELLPHONE"),
    "COMMInt": ("COMMUNICATIONS", "INTERCOM"),
    "COMMMic": ("COMMUNICATIONS", "MICROPHONE"),
    "COMMMisc": ("COMMUNICATIONS", "MISC"),
    "COMMPhone": ("COMMUNICATIONS", "TELEPHONE"),
    "COMMRadio": ("COMMUNICATIONS", "RADIO"),
    "COMMTelm": ("COMMUNICATIONS", "TELEMETRY"),
    "COMMTv": ("COMMUNICATIONS", "TELEVISION"),
    "COMMTyp": ("COMMUNICATIONS", "TYPEWRITER"),
    # COMPUTERS
    "COMPHard": ("COMPUTERS", "HARD DRIVE"),
    "COMPKey": ("COMPUTERS", "KEYBOARD"),
    "COMPMisc": ("COMPUTERS", "MISC"),
    "COMPMouse": ("COMPUTERS", "MOUSE"),
    "COMPPrnt": ("COMPUTERS", "PRINTER"),
    # CREATURES
    "CREADino": ("CREATURES", "DINOSAUR"),
    "CREADrgn": ("CREATURES", "DRAGON"),
    "CREAEthr": ("CREATURES", "ETHEREAL"),
    "CREAHmn": ("CREATURES", "HUMANOID"),
    "CREAInsc": ("CREATURES", "INSECT"),
    "CREAMisc": ("CREATURES", "MISC"),
    "CREAMnstr": ("CREATURES", "MONSTER"),
    "CREASmall": ("CREATURES", "SMALL"),
    # CROWDS
    "CRWDAngr": ("CROWDS", "ANGRY"),
    "CRWDApls": ("CROWDS", "APPLAUSE"),
    "CRWDBattle": ("CROWDS", "BATTLE"),
    "CRWDCele": ("CROWDS", "CELEBRATION"),
    "CRWDChant": ("CROWDS", "CHANT"),
    "CRWDCheer": ("CROWDS", "CHEER"),
    "CRWDChld": ("CROWDS", "CHILDREN"),
    "CRWDConv": ("CROWDS", "CONVERSATION"),
    "CRWDLaugh": ("CROWDS", "LAUGHTER"),
    "CRWDLoop": ("CROWDS", "LOOP GROUP"),
    "CRWDMisc": ("CROWDS", "MISC"),
    "CRWDPanic": ("CROWDS", "PANIC"),
    "CRWDQuiet": ("CROWDS", "QUIET"),
    "CRWDReac": ("CROWDS", "REACTION"),
    "CRWDSing": ("CROWDS", "SINGING"),
    "CRWDSprt": ("CROWDS", "SPORTS"),
    "CRWDWalla": ("CROWDS", "WALLA"),
    # DESIGNED
    "DSGNBram": ("DESIGNED", "BRAAM"),
    "DSGNDrn": ("DESIGNED", "DRONE"),
    "DSGNEthr": ("DESIGNED", "ETHEREAL"),
    "DSGNImpt": ("DESIGNED", "IMPACT"),
    "DSGNMisc": ("DESIGNED", "MISC"),
    "DSGNRise": ("DESIGNED", "RISER"),
    "DSGNRmbl": ("DESIGNED", "RUMBLE"),
    "DSGNSrce": ("DESIGNED", "SOURCE"),
    "DSGNStngr": ("DESIGNED", "STINGER"),
    "DSGNSynth": ("DESIGNED", "SYNTHETIC"),
    "DSGNTonl": ("DESIGNED", "TONAL"),
    "DSGNVocl": ("DESIGNED", "VOCAL"),
    # DESTRUCTION
    "DESTCllps": ("DESTRUCTION", "COLLAPSE"),
    "DESTCrsh": ("DESTRUCTION", "CRASH"),
    "DESTMisc": ("DESTRUCTION", "MISC"),
    # DIRT & SAND
    "DIRTImpt": ("DIRT & SAND", "IMPACT"),
    "DIRTMisc": ("DIRT & SAND", "MISC"),
    "DIRTMvmt": ("DIRT & SAND", "MOVEMENT"),
    # DOORS
    "DOORAntq": ("DOORS", "ANTIQUE"),
    "DOORAppl": ("DOORS", "APPLIANCE"),
    "DOORCab": ("DOORS", "CABINET"),
    "DOORDungn": ("DOORS", "DUNGEON"),
    "DOORElec": ("DOORS", "ELECTRIC"),
    "DOORGate": ("DOORS", "GATE"),
    "DOORGlas": ("DOORS", "GLASS"),
    "DOORHdwr": ("DOORS", "HARDWARE"),
    "DOORHist": ("DOORS", "HISTORICAL"),
    "DOORHydr": ("DOORS", "HYDRAULIC & PNEUMATIC"),
    "DOORKnck": ("DOORS", "KNOCK"),
    "DOORMetl": ("DOORS", "METAL"),
    "DOORMisc": ("DOORS", "MISC"),
    "DOORPlas": ("DOORS", "PLASTIC"),
    "DOORScif": ("DOORS", "SCIFI"),
    "DOORSlid": ("DOORS", "SLIDING"),
    "DOORSqk": ("DOORS", "SQUEAK"),
    "DOORStone": ("DOORS", "STONE"),
    "DOORWood": ("DOORS", "WOOD"),
    # DRAWERS
    "DRWRMetl": ("DRAWERS", "METAL"),
    "DRWRMisc": ("DRAWERS", "MISC"),
    "DRWRPlas": ("DRAWERS", "PLASTIC"),
    "DRWRWood": ("DRAWERS", "WOOD"),
    # ELECTRICITY
    "ELECArc": ("ELECTRICITY", "ARC"),
    "ELECBuzz": ("ELECTRICITY", "BUZZ"),
    "ELECHum": ("ELECTRICITY", "HUM"),
    "ELECMisc": ("ELECTRICITY", "MISC"),
    "ELECSprk": ("ELECTRICITY", "SPARK"),
    "ELECZap": ("ELECTRICITY", "ZAP"),
    # EQUIPMENT
    "EQUIPMisc": ("EQUIPMENT", "MISC"),
    # EXPLOSIONS
    "EXPLDsgn": ("EXPLOSIONS", "DESIGNED"),
    "EXPLMisc": ("EXPLOSIONS", "MISC"),
    "EXPLReal": ("EXPLOSIONS", "REAL"),
    # FIGHT
    "FGHTBody": ("FIGHT", "BODY"),
    "FGHTClth": ("FIGHT", "CLOTH"),
    "FGHTGrab": ("FIGHT", "GRAB"),
    "FGHTImpt": ("FIGHT", "IMPACT"),
    "FGHTMisc": ("FIGHT", "MISC"),
    # FIRE
    "FIREBrst": ("FIRE", "BURST"),
    "FIREBurn": ("FIRE", "BURNING"),
    "FIRECrkl": ("FIRE", "CRACKLE"),
    "FIREGas": ("FIRE", "GAS"),
    "FIREIgn": ("FIRE", "IGNITE"),
    "FIREMisc": ("FIRE", "MISC"),
    "FIRESizz": ("FIRE", "SIZZLE"),
    "FIRETrch": ("FIRE", "TORCH"),
    "FIREWhsh": ("FIRE", "WHOOSH"),
    # FIREWORKS
    "FIREWRKMisc": ("FIREWORKS", "MISC"),
    "FIREWRKRckt": ("FIREWORKS", "ROCKET"),
    "FIREWRKCrckr": ("FIREWORKS", "FIRECRACKER"),
    # FOLEY
    "FOLYClth": ("FOLEY", "CLOTH"),
    "FOLYFeet": ("FOLEY", "FEET"),
    "FOLYHand": ("FOLEY", "HANDS"),
    "FOLYMisc": ("FOLEY", "MISC"),
    "FOLYProp": ("FOLEY", "PROP"),
    # FOOD & DRINK
    "FOODCook": ("FOOD & DRINK", "COOKING"),
    "FOODDrink": ("FOOD & DRINK", "DRINKING"),
    "FOODEat": ("FOOD & DRINK", "EATING"),
    "FOODGware": ("FOOD & DRINK", "GLASSWARE"),
    "FOODIngr": ("FOOD & DRINK", "INGREDIENTS"),
    "FOODKware": ("FOOD & DRINK", "KITCHENWARE"),
    "FOODMisc": ("FOOD & DRINK", "MISC"),
    "FOODTware": ("FOOD & DRINK", "TABLEWARE"),
    # FOOTSTEPS
    "FEETAnml": ("FOOTSTEPS", "ANIMAL"),
    "FEETCrea": ("FOOTSTEPS", "CREATURE"),
    "FEETHeel": ("FOOTSTEPS", "HEELS"),
    "FEETHors": ("FOOTSTEPS", "HORSE"),
    "FEETHuman": ("FOOTSTEPS", "HUMAN"),
    "FEETMisc": ("FOOTSTEPS", "MISC"),
    # GAMES
    "GAMEArcd": ("GAMES", "ARCADE"),
    "GAMEBoard": ("GAMES", "BOARD"),
    "GAMECard": ("GAMES", "CARD"),
    "GAMECasn": ("GAMES", "CASINO"),
    "GAMEMisc": ("GAMES", "MISC"),
    "GAMEVideo": ("GAMES", "VIDEO"),
    # GEOTHERMAL
    "GEOFuml": ("GEOTHERMAL", "FUMAROLE"),
    "GEOGeyser": ("GEOTHERMAL", "GEYSER"),
    "GEOLava": ("GEOTHERMAL", "LAVA"),
    "GEOMisc": ("GEOTHERMAL", "MISC"),
    "GEOMud": ("GEOTHERMAL", "MUD POT"),
    # GLASS
    "GLASBrk": ("GLASS", "BREAK"),
    "GLASCrsh": ("GLASS", "CRASH"),
    "GLASImpt": ("GLASS", "IMPACT"),
    "GLASMisc": ("GLASS", "MISC"),
    "GLASMvmt": ("GLASS", "MOVEMENT"),
    "GLASTonl": ("GLASS", "TONAL"),
    # GORE
    "GOREBone": ("GORE", "BONE"),
    "GOREFlsh": ("GORE", "FLESH"),
    "GOREMisc": ("GORE", "MISC"),
    "GORESplt": ("GORE", "SPLATTER"),
    "GOREStab": ("GORE", "STAB"),
    # GUNS
    "GUNAntq": ("GUNS", "ANTIQUE"),
    "GUNArtl": ("GUNS", "ARTILLERY"),
    "GUNAuto": ("GUNS", "AUTOMATIC"),
    "GUNCano": ("GUNS", "CANNON"),
    "GUNMech": ("GUNS", "MECHANISM"),
    "GUNMisc": ("GUNS", "MISC"),
    "GUNPis": ("GUNS", "PISTOL"),
    "GUNRif": ("GUNS", "RIFLE"),
    "GUNShotg": ("GUNS", "SHOTGUN"),
    "GUNSupr": ("GUNS", "SUPPRESSED"),
    # HORNS
    "HORNAir": ("HORNS", "AIR POWERED"),
    "HORNMisc": ("HORNS", "MISC"),
    "HORNTrad": ("HORNS", "TRADITIONAL"),
    # HUMAN
    "HMNBrth": ("HUMAN", "BREATH"),
    "HMNBurp": ("HUMAN", "BURP"),
    "HMNHart": ("HUMAN", "HEARTBEAT"),
    "HMNMisc": ("HUMAN", "MISC"),
    "HMNSnor": ("HUMAN", "SNORE"),
    # ICE
    "ICEBrk": ("ICE", "BREAK"),
    "ICECrsh": ("ICE", "CRASH"),
    "ICEImpt": ("ICE", "IMPACT"),
    "ICEMisc": ("ICE", "MISC"),
    "ICEMvmt": ("ICE", "MOVEMENT"),
    # LASERS
    "LASRBeam": ("LASERS", "BEAM"),
    "LASRGun": ("LASERS", "GUN"),
    "LASRImpt": ("LASERS", "IMPACT"),
    "LASRMisc": ("LASERS", "MISC"),
    # LEATHER
    "LETHCreak": ("LEATHER", "CREAK"),
    "LETHHndl": ("LEATHER", "HANDLE"),
    "LETHImpt": ("LEATHER", "IMPACT"),
    "LETHMisc": ("LEATHER", "MISC"),
    "LETHMvmt": ("LEATHER", "MOVEMENT"),
    # LIQUID & MUD
    "LIQBubl": ("LIQUID & MUD", "BUBBLES"),
    "LIQImpt": ("LIQUID & MUD", "IMPACT"),
    "LIQMisc": ("LIQUID & MUD", "MISC"),
    "LIQMud": ("LIQUID & MUD", "MUD"),
    "LIQMvmt": ("LIQUID & MUD", "MOVEMENT"),
    "LIQSuct": ("LIQUID & MUD", "SUCTION"),
    # MACHINES
    "MACHAmus": ("MACHINES", "AMUSEMENT"),
    "MACHAppl": ("MACHINES", "APPLIANCE"),
    "MACHConst": ("MACHINES", "CONSTRUCTION"),
    "MACHFan": ("MACHINES", "FAN"),
    "MACHGardn": ("MACHINES", "GARDEN"),
    "MACHHvac": ("MACHINES", "HVAC"),
    "MACHInd": ("MACHINES", "INDUSTRIAL"),
    "MACHMed": ("MACHINES", "MEDICAL"),
    "MACHMisc": ("MACHINES", "MISC"),
    "MACHOffc": ("MACHINES", "OFFICE"),
    "MACHPump": ("MACHINES", "PUMP"),
    # MAGIC
    "MAGAngl": ("MAGIC", "ANGELIC"),
    "MAGElem": ("MAGIC", "ELEMENTAL"),
    "MAGEvil": ("MAGIC", "EVIL"),
    "MAGMisc": ("MAGIC", "MISC"),
    "MAGPoof": ("MAGIC", "POOF"),
    "MAGShim": ("MAGIC", "SHIMMER"),
    "MAGSpel": ("MAGIC", "SPELL"),
    # MECHANICAL
    "MECHClik": ("MECHANICAL", "CLICK"),
    "MECHGear": ("MECHANICAL", "GEAR"),
    "MECHHydr": ("MECHANICAL", "HYDRAULIC"),
    "MECHLtch": ("MECHANICAL", "LATCH"),
    "MECHLock": ("MECHANICAL", "LOCK"),
    "MECHLvr": ("MECHANICAL", "LEVER"),
    "MECHMisc": ("MECHANICAL", "MISC"),
    "MECHPlly": ("MECHANICAL", "PULLEY"),
    "MECHRtch": ("MECHANICAL", "RATCHET"),
    "MECHRelay": ("MECHANICAL", "RELAY"),
    "MECHSwtch": ("MECHANICAL", "SWITCH"),
    # METAL
    "METLBrk": ("METAL", "BREAK"),
    "METLCrsh": ("METAL", "CRASH"),
    "METLFric": ("METAL", "FRICTION"),
    "METLHndl": ("METAL", "HANDLE"),
    "METLImpt": ("METAL", "IMPACT"),
    "METLMisc": ("METAL", "MISC"),
    "METLMvmt": ("METAL", "MOVEMENT"),
    "METLTonl": ("METAL", "TONAL"),
    # MOTORS
    "MOTRCmbst": ("MOTORS", "COMBUSTION"),
    "MOTRElec": ("MOTORS", "ELECTRIC"),
    "MOTRMisc": ("MOTORS", "MISC"),
    "MOTRTurbn": ("MOTORS", "TURBINE"),
    # MOVEMENT
    "MOVEActv": ("MOVEMENT", "ACTIVITY"),
    "MOVEAnml": ("MOVEMENT", "ANIMAL"),
    "MOVEMisc": ("MOVEMENT", "MISC"),
    # MUSICAL
    "MUSCBrass": ("MUSICAL", "BRASS"),
    "MUSCChim": ("MUSICAL", "CHIMES"),
    "MUSCMisc": ("MUSICAL", "MISC"),
    "MUSCPerc": ("MUSICAL", "PERCUSSION"),
    "MUSCPno": ("MUSICAL", "PIANO"),
    "MUSCShkr": ("MUSICAL", "SHAKER"),
    "MUSCStr": ("MUSICAL", "STRINGED"),
    "MUSCToy": ("MUSICAL", "TOY"),
    "MUSCWind": ("MUSICAL", "WOODWIND"),
    # NATURAL DISASTER
    "NATDAval": ("NATURAL DISASTER", "AVALANCHE"),
    "NATDEarth": ("NATURAL DISASTER", "EARTHQUAKE"),
    "NATDMisc": ("NATURAL DISASTER", "MISC"),
    "NATDTorn": ("NATURAL DISASTER", "TORNADO"),
    # OBJECTS
    "OBJBag": ("OBJECTS", "BAG"),
    "OBJBook": ("OBJECTS", "BOOK"),
    "OBJCoin": ("OBJECTS", "COIN"),
    "OBJCont": ("OBJECTS", "CONTAINER"),
    "OBJFurn": ("OBJECTS", "FURNITURE"),
    "OBJHsehld": ("OBJECTS", "HOUSEHOLD"),
    "OBJJewl": ("OBJECTS", "JEWELRY"),
    "OBJKey": ("OBJECTS", "KEYS"),
    "OBJLug": ("OBJECTS", "LUGGAGE"),
    "OBJMisc": ("OBJECTS", "MISC"),
    "OBJPen": ("OBJECTS", "PEN & PENCIL"),
    "OBJUmbr": ("OBJECTS", "UMBRELLA"),
    "OBJWhee": ("OBJECTS", "WHEELED"),
    "OBJZipr": ("OBJECTS", "ZIPPER"),
    # PAPER
    "PAPRCrsh": ("PAPER", "CRUMPLE"),
    "PAPRFric": ("PAPER", "FRICTION"),
    "PAPRHndl": ("PAPER", "HANDLE"),
    "PAPRImpt": ("PAPER", "IMPACT"),
    "PAPRMisc": ("PAPER", "MISC"),
    "PAPRRip": ("PAPER", "TEAR"),
    # PLASTIC
    "PLASBrk": ("PLASTIC", "BREAK"),
    "PLASCrsh": ("PLASTIC", "CRASH"),
    "PLASFric": ("PLASTIC", "FRICTION"),
    "PLASImpt": ("PLASTIC", "IMPACT"),
    "PLASMisc": ("PLASTIC", "MISC"),
    "PLASMvmt": ("PLASTIC", "MOVEMENT"),
    # RAIN
    "RAINClos": ("RAIN", "CLOSE"),
    "RAINGen": ("RAIN", "GENERAL"),
    "RAINGlas": ("RAIN", "GLASS"),
    "RAINInt": ("RAIN", "INTERIOR"),
    "RAINMetl": ("RAIN", "METAL"),
    "RAINMisc": ("RAIN", "MISC"),
    "RAINPlas": ("RAIN", "PLASTIC"),
    "RAINVeg": ("RAIN", "VEGETATION"),
    "RAINWatr": ("RAIN", "WATER"),
    "RAINWood": ("RAIN", "WOOD"),
    # ROBOTS
    "ROBTMisc": ("ROBOTS", "MISC"),
    "ROBTMvmt": ("ROBOTS", "MOVEMENT"),
    "ROBTVox": ("ROBOTS", "VOCAL"),
    # ROCKS
    "ROCKBrk": ("ROCKS", "BREAK"),
    "ROCKCrsh": ("ROCKS", "CRASH"),
    "ROCKFric": ("ROCKS", "FRICTION"),
    "ROCKImpt": ("ROCKS", "IMPACT"),
    "ROCKMisc": ("ROCKS", "MISC"),
    "ROCKMvmt": ("ROCKS", "MOVEMENT"),
    # ROPE
    "ROPECreak": ("ROPE", "CREAK"),
    "ROPEImpt": ("ROPE", "IMPACT"),
    "ROPEMisc": ("ROPE", "MISC"),
    "ROPEMvmt": ("ROPE", "MOVEMENT"),
    # RUBBER
    "RUBRCreak": ("RUBBER", "CREAK"),
    "RUBRFric": ("RUBBER", "FRICTION"),
    "RUBRImpt": ("RUBBER", "IMPACT"),
    "RUBRMisc": ("RUBBER", "MISC"),
    "RUBRMvmt": ("RUBBER", "MOVEMENT"),
    # SCIFI
    "SCIAlrm": ("SCIFI", "ALARM"),
    "SCICmpt": ("SCIFI", "COMPUTER"),
    "SCIEnrg": ("SCIFI", "ENERGY"),
    "SCIImpt": ("SCIFI", "IMPACT"),
    "SCIMach": ("SCIFI", "MACHINE"),
    "SCIMech": ("SCIFI", "MECHANISM"),
    "SCIMisc": ("SCIFI", "MISC"),
    "SCIRetro": ("SCIFI", "RETRO"),
    "SCIShip": ("SCIFI", "SPACESHIP"),
    "SCIWeap": ("SCIFI", "WEAPON"),
    # SNOW
    "SNOWImpt": ("SNOW", "IMPACT"),
    "SNOWMisc": ("SNOW", "MISC"),
    "SNOWMvmt": ("SNOW", "MOVEMENT"),
    # SPORTS
    "SPRTBask": ("SPORTS", "BASKETBALL"),
    "SPRTBoxg": ("SPORTS", "BOXING"),
    "SPRTGolf": ("SPORTS", "GOLF"),
    "SPRTGym": ("SPORTS", "GYM"),
    "SPRTMisc": ("SPORTS", "MISC"),
    "SPRTSkat": ("SPORTS", "SKATE"),
    "SPRTTenn": ("SPORTS", "TENNIS"),
    "SPRTWatr": ("SPORTS", "WATER"),
    # SWOOSHES
    "SWSHMisc": ("SWOOSHES", "MISC"),
    "SWSHSwsh": ("SWOOSHES", "SWOOSH"),
    "SWSHWhip": ("SWOOSHES", "WHIP"),
    # TOOLS
    "TOOLGrdn": ("TOOLS", "GARDEN"),
    "TOOLHand": ("TOOLS", "HAND"),
    "TOOLMisc": ("TOOLS", "MISC"),
    "TOOLPneu": ("TOOLS", "PNEUMATIC"),
    "TOOLPowr": ("TOOLS", "POWER"),
    # TOYS
    "TOYElec": ("TOYS", "ELECTRONIC"),
    "TOYMech": ("TOYS", "MECHANICAL"),
    "TOYMisc": ("TOYS", "MISC"),
    # TRAINS
    "TRNDiesl": ("TRAINS", "DIESEL"),
    "TRNElec": ("TRAINS", "ELECTRIC"),
    "TRNHspd": ("TRAINS", "HIGH SPEED"),
    "TRNMech": ("TRAINS", "MECHANISM"),
    "TRNMisc": ("TRAINS", "MISC"),
    "TRNStm": ("TRAINS", "STEAM"),
    "TRNSubwy": ("TRAINS", "SUBWAY"),
    "TRNTram": ("TRAINS", "TRAM"),
    # USER INTERFACE
    "UIAlert": ("USER INTERFACE", "ALERT"),
    "UIBeep": ("USER INTERFACE", "BEEP"),
    "UIClick": ("USER INTERFACE", "CLICK"),
    "UIData": ("USER INTERFACE", "DATA"),
    "UIGlitch": ("USER INTERFACE", "GLITCH"),
    "UIMisc": ("USER INTERFACE", "MISC"),
    "UIMvmt": ("USER INTERFACE", "MOTION"),
    # VEHICLES
    "VEHAlrm": ("VEHICLES", "ALARM"),
    "VEHAntq": ("VEHICLES", "ANTIQUE"),
    "VEHBike": ("VEHICLES", "BICYCLE"),
    "VEHBus": ("VEHICLES", "BUS"),
    "VEHCar": ("VEHICLES", "CAR"),
    "VEHDoor": ("VEHICLES", "DOOR"),
    "VEHElec": ("VEHICLES", "ELECTRIC"),
    "VEHEmrg": ("VEHICLES", "EMERGENCY"),
    "VEHHorn": ("VEHICLES", "HORN"),
    "VEHInt": ("VEHICLES", "INTERIOR"),
    "VEHJalop": ("VEHICLES", "JALOPY"),
    "VEHMech": ("VEHICLES", "MECHANISM"),
    "VEHMil": ("VEHICLES", "MILITARY"),
    "VEHMisc": ("VEHICLES", "MISC"),
    "VEHMoto": ("VEHICLES", "MOTORCYCLE"),
    "VEHRace": ("VEHICLES", "RACING"),
    "VEHSkid": ("VEHICLES", "TIRE SKID"),
    "VEHSusp": ("VEHICLES", "SUSPENSION"),
    "VEHTire": ("VEHICLES", "TIRE"),
    "VEHTruck": ("VEHICLES", "TRUCK"),
    # VOICES
    "VOXAlien": ("VOICES", "ALIEN"),
    "VOXBaby": ("VOICES", "BABY"),
    "VOXChld": ("VOICES", "CHILD"),
    "VOXCry": ("VOICES", "CRYING"),
    "VOXEfrt": ("VOICES", "EFFORTS"),
    "VOXFem": ("VOICES", "FEMALE"),
    "VOXFutz": ("VOICES", "FUTZED"),
    "VOXLaugh": ("VOICES", "LAUGH"),
    "VOXMale": ("VOICES", "MALE"),
    "VOXMisc": ("VOICES", "MISC"),
    "VOXReac": ("VOICES", "REACTION"),
    "VOXScrm": ("VOICES", "SCREAM"),
    "VOXSing": ("VOICES", "SINGING"),
    "VOXWhsp": ("VOICES", "WHISPER"),
    # WATER
    "WATRBubl": ("WATER", "BUBBLES"),
    "WATRDrip": ("WATER", "DRIP"),
    "WATRFall": ("WATER", "WATERFALL"),
    "WATRFill": ("WATER", "FILL"),
    "WATRFizz": ("WATER", "FIZZ"),
    "WATRFlow": ("WATER", "FLOW"),
    "WATRFoun": ("WATER", "FOUNTAIN"),
    "WATRImpt": ("WATER", "IMPACT"),
    "WATRLap": ("WATER", "LAP"),
    "WATRMisc": ("WATER", "MISC"),
    "WATRMvmt": ("WATER", "MOVEMENT"),
    "WATRPlmb": ("WATER", "PLUMBING"),
    "WATRPour": ("WATER", "POUR"),
    "WATRSplsh": ("WATER", "SPLASH"),
    "WATRSpray": ("WATER", "SPRAY"),
    "WATRStm": ("WATER", "STEAM"),
    "WATRSurf": ("WATER", "SURF"),
    "WATRTurb": ("WATER", "TURBULENT"),
    "WATRUndwtr": ("WATER", "UNDERWATER"),
    "WATRWave": ("WATER", "WAVES"),
    # WEAPONS
    "WEAPArmr": ("WEAPONS", "ARMOR"),
    "WEAPArro": ("WEAPONS", "ARROW"),
    "WEAPAxe": ("WEAPONS", "AXE"),
    "WEAPBlnt": ("WEAPONS", "BLUNT"),
    "WEAPBow": ("WEAPONS", "BOW"),
    "WEAPKnif": ("WEAPONS", "KNIFE"),
    "WEAPMisc": ("WEAPONS", "MISC"),
    "WEAPPole": ("WEAPONS", "POLEARM"),
    "WEAPSiege": ("WEAPONS", "SIEGE"),
    "WEAPSwrd": ("WEAPONS", "SWORD"),
    "WEAPWhip": ("WEAPONS", "WHIP"),
    # WHOOSHES
    "WHSHBy": ("WHOOSHES", "BY"),
    "WHSHFire": ("WHOOSHES", "FIRE"),
    "WHSHMech": ("WHOOSHES", "MECHANICAL"),
    "WHSHMisc": ("WHOOSHES", "MISC"),
    "WHSHSwsh": ("WHOOSHES", "SWISH"),
    # WIND
    "WINDDsgn": ("WIND", "DESIGNED"),
    "WINDGen": ("WIND", "GENERAL"),
    "WINDGust": ("WIND", "GUST"),
    "WINDInt": ("WIND", "INTERIOR"),
    "WINDMisc": ("WIND", "MISC"),
    "WINDTonl": ("WIND", "TONAL"),
    "WINDTurb": ("WIND", "TURBULENT"),
    "WINDVege": ("WIND", "VEGETATION"),
    "WINDWhstl": ("WIND", "WHISTLING"),
    # WINDOWS
    "WINDWMisc": ("WINDOWS", "MISC"),
    "WINDWWood": ("WINDOWS", "WOOD"),
    "WINDWMetl": ("WINDOWS", "METAL"),
    # WOOD
    "WOODBrk": ("WOOD", "BREAK"),
    "WOODCreak": ("WOOD", "CREAK"),
    "WOODCrsh": ("WOOD", "CRASH"),
    "WOODFric": ("WOOD", "FRICTION"),
    "WOODHndl": ("WOOD", "HANDLE"),
    "WOODImpt": ("WOOD", "IMPACT"),
    "WOODMisc": ("WOOD", "MISC"),
    "WOODMvmt": ("WOOD", "MOVEMENT"),
    "WOODTonl": ("WOOD", "TONAL"),
}

_BY_LOWER = {cat_id.lower(): (cat_id, names) for cat_id, names in UCS_CATEGORIES.items()}


def _prefix_categories() -> dict[str, str]:
    """Upper-case CatID prefix ("DOOR") -> Category ("DOORS"), for CatIDs missing from the table."""
    prefixes: dict[str, str] = {}
    for cat_id, (category, _) in UCS_CATEGORIES.items():
        match = re.match(r"[A-Z]+(?=[A-Z][a-z])", cat_id)
        if match:
            prefixes.setdefault(match.group(0), category)
    return prefixes


_PREFIXES = _prefix_categories()
# An upper-case prefix followed by a capitalised word: the shape of every CatID.
_CAT_ID_SHAPE = re.compile(r"^([A-Z]{2,})[A-Z][a-z][A-Za-z]*$")


@dataclass(frozen=True)
class UcsName:
    """The parts of a UCS file name; ``subcategory`` is "" for a CatID the table lacks."""

    cat_id: str
    category: str
    subcategory: str
    fx_name: str
    creator_id: str = ""
    source_id: str = ""
    user_category: str = ""

    @property
    def label(self) -> str:
        """The category as one string, UCS style: "DOORS-WOOD" (or "DOORS")."""
        return f"{self.category}-{self.subcategory}" if self.subcategory else self.category


def lookup(cat_id: str) -> tuple[str, str] | None:
    """(Category, SubCategory) of a CatID, matched case-insensitively; None if unknown."""
    found = _BY_LOWER.get(cat_id.lower())
    return found[1] if found else None


def _resolve(cat_id: str) -> tuple[str, str, str] | None:
    """(canonical CatID, Category, SubCategory), also for an unknown CatID of a known prefix."""
    found = _BY_LOWER.get(cat_id.lower())
    if found:
        return found[0], *found[1]
    shape = _CAT_ID_SHAPE.match(cat_id)
    if shape:
        # Longest known prefix first ("FIREWRK" before "FIRE").
        for end in range(len(shape.group(1)), 1, -1):
            category = _PREFIXES.get(cat_id[:end])
            if category:
                return cat_id, category, ""
    return None


def parse_ucs_name(stem: str) -> UcsName | None:
    """The UCS parts of a file name without its extension, or None if it is not a UCS name.

    A UCS name needs a known CatID (optionally ``CatID-UserCategory``) and a non-empty FXName.
    """
    parts = [part.strip() for part in stem.split("_")]
    if len(parts) < 2 or not parts[1]:
        return None
    cat_id, _, user_category = parts[0].partition("-")
    resolved = _resolve(cat_id)
    if resolved is None:
        return None
    canonical, category, subcategory = resolved
    return UcsName(
        cat_id=canonical,
        category=category,
        subcategory=subcategory,
        fx_name=parts[1],
        creator_id=parts[2] if len(parts) > 2 else "",
        source_id=parts[3] if len(parts) > 3 else "",
        user_category=user_category,
    )
