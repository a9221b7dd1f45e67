"""French reference tables for the demo data: names, places, streets and two catalogues.

Written by hand rather than taken from a fake-data library so that the demo stays
reproducible from its seed whatever library version is installed, and needs no dependency
beyond the runtime ones. Postcode/city pairs are real; street addresses are invented.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

FIRST_NAMES: tuple[str, ...] = (
    # Among the most given names in France over the last decades, women then men.
    "Marie", "Camille", "Léa", "Manon", "Chloé", "Emma", "Inès", "Sarah", "Julie", "Laura",
    "Clara", "Anaïs", "Pauline", "Mathilde", "Lucie", "Juliette", "Louise", "Alice", "Zoé",
    "Jade", "Océane", "Élodie", "Charlotte", "Margaux", "Claire", "Sophie", "Nathalie",
    "Isabelle", "Sylvie", "Catherine", "Christine", "Valérie", "Sandrine", "Céline", "Aurélie",
    "Émilie", "Hélène", "Françoise", "Monique", "Nicole", "Anne", "Élise", "Agathe", "Romane",
    "Lina", "Ambre", "Rose", "Anna", "Lou", "Maëlys", "Nina", "Yasmine", "Amira", "Fatima",
    "Aïcha", "Nour", "Thomas", "Lucas", "Hugo", "Louis", "Gabriel", "Arthur", "Jules",
    "Nathan", "Théo", "Léo", "Raphaël", "Adam", "Mathis", "Maxime", "Alexandre", "Antoine",
    "Nicolas", "Julien", "Pierre", "Paul", "Quentin", "Romain", "Guillaume", "Benjamin",
    "Baptiste", "Clément", "Vincent", "Olivier", "Philippe", "Christophe", "Laurent",
    "Stéphane", "David", "Sébastien", "Frédéric", "Éric", "Patrick", "Michel", "Jean",
    "François", "Alain", "Bernard", "Mehdi", "Karim", "Yanis", "Rayan", "Noah", "Ethan",
    "Sacha", "Timothée", "Étienne", "Mathieu", "Cédric", "Jérôme", "Loïc", "Yann", "Erwan",
    "Gaël",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau",
    "Laurent", "Simon", "Michel", "Lefebvre", "Leroy", "Roux", "David", "Bertrand", "Morel",
    "Fournier", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent",
    "Muller", "Lefèvre", "Faure", "André", "Mercier", "Blanc", "Guérin", "Boyer", "Garnier",
    "Chevalier", "François", "Legrand", "Gauthier", "Garcia", "Perrin", "Robin", "Clément",
    "Morin", "Nicolas", "Henry", "Roussel", "Mathieu", "Gautier", "Masson", "Marchand",
    "Duval", "Denis", "Dumont", "Lemaire", "Noël", "Meyer", "Dufour", "Meunier", "Brun",
    "Blanchard", "Giraud", "Joly", "Rivière", "Lucas", "Brunet", "Gaillard", "Barbier",
    "Arnaud", "Martinez", "Gérard", "Roche", "Renard", "Schmitt", "Roy", "Leroux", "Colin",
    "Vidal", "Caron", "Picard", "Roger", "Fabre", "Aubert", "Lemoine", "Renaud", "Dumas",
    "Lacroix", "Olivier", "Philippe", "Bourgeois", "Benoît", "Rey", "Leclerc", "Payet",
    "Rolland", "Guillaume", "Lecomte", "Lopez", "Dupuy", "Guillot", "Hubert", "Berger",
    "Carpentier", "Sanchez", "Dupuis", "Moulin", "Deschamps", "Huet", "Vasseur", "Perez",
    "Boucher", "Fleury", "Royer", "Klein", "Jacquet", "Adam", "Poirier", "Marty", "Aubry",
    "Guyot", "Carré", "Charpentier", "Ménard", "Maillard", "Baron", "Bertin", "Bailly",
    "Hervé", "Schneider", "Fernandez", "Le Gall", "Collet", "Léger", "Bouvier", "Prévost",
    "Perrot", "Le Roux", "Cousin", "Germain", "Breton", "Besson", "Langlois", "Le Goff",
    "Pelletier", "Lévêque", "Leblanc", "Lebrun", "Weber", "Hamon", "Boulanger", "Jacob",
    "Monnier", "Michaud", "Rodrigues", "Ferreira", "Pereira", "Da Silva", "Nguyen", "Tran",
    "Haddad", "Benali", "Mansouri", "Cherif", "Amrani", "Bouzid", "Hoarau", "Grondin",
)  # fmt: skip

STREET_TYPES_AND_NAMES: tuple[tuple[str, str], ...] = (
    ("rue", "Victor Hugo"), ("rue", "de la République"), ("rue", "Jean Jaurès"),
    ("avenue", "Jean Jaurès"), ("rue", "Pasteur"), ("boulevard", "Gambetta"),
    ("rue", "du Général de Gaulle"), ("avenue", "de la Libération"), ("rue", "Jules Ferry"),
    ("rue", "de l'Église"), ("place", "de la Mairie"), ("rue", "des Écoles"),
    ("rue", "du Moulin"), ("chemin", "des Vignes"), ("allée", "des Tilleuls"),
    ("impasse", "des Lilas"), ("rue", "des Acacias"), ("rue", "Émile Zola"),
    ("boulevard", "Voltaire"), ("rue", "Anatole France"), ("avenue", "Foch"),
    ("rue", "Gabriel Péri"), ("rue", "de la Gare"), ("rue", "Nationale"),
    ("rue", "du Château"), ("place", "du Marché"), ("rue", "Saint-Martin"),
    ("rue", "des Peupliers"), ("avenue", "des Marronniers"), ("rue", "Louis Pasteur"),
    ("rue", "Lamartine"), ("rue", "Alsace-Lorraine"), ("quai", "des Chartrons"),
    ("cours", "Mirabeau"), ("rue", "de la Paix"), ("rue", "Paul Bert"),
    ("rue", "Carnot"), ("avenue", "du Maréchal Leclerc"), ("rue", "des Jardins"),
    ("rue", "du Stade"), ("chemin", "de la Croix"), ("rue", "Marcel Pagnol"),
    ("rue", "Jean Moulin"), ("rue", "George Sand"), ("allée", "des Cerisiers"),
    ("rue", "des Fleurs"), ("rue", "Molière"), ("boulevard", "de la Liberté"),
)  # fmt: skip

ADDRESS_COMPLEMENTS: tuple[str, ...] = (
    "Bâtiment B", "Appartement 12", "Résidence Les Pins", "3e étage, porte droite",
    "Escalier C", "Appartement 4", "Résidence du Parc, bât. A", "Chez M. et Mme Lemoine",
    "2e étage", "Digicode 4719",
)  # fmt: skip

# Real postcode/city pairs, grouped by region, with a rough population weight per region so
# that the spread of customers looks like the country's.
REGIONS: dict[str, tuple[int, tuple[tuple[str, str], ...]]] = {
    "Île-de-France": (18, (
        ("75001", "Paris"), ("75011", "Paris"), ("75015", "Paris"), ("75018", "Paris"),
        ("75020", "Paris"), ("92100", "Boulogne-Billancourt"), ("92200", "Neuilly-sur-Seine"),
        ("93100", "Montreuil"), ("93200", "Saint-Denis"), ("94300", "Vincennes"),
        ("94000", "Créteil"), ("78000", "Versailles"), ("91300", "Massy"), ("95000", "Cergy"),
        ("77300", "Fontainebleau"), ("92130", "Issy-les-Moulineaux"), ("92400", "Courbevoie"),
        ("94200", "Ivry-sur-Seine"), ("77100", "Meaux"), ("91000", "Évry-Courcouronnes"),
    )),
    "Auvergne-Rhône-Alpes": (12, (
        ("69001", "Lyon"), ("69003", "Lyon"), ("69007", "Lyon"), ("69100", "Villeurbanne"),
        ("38000", "Grenoble"), ("42000", "Saint-Étienne"), ("63000", "Clermont-Ferrand"),
        ("73000", "Chambéry"), ("74000", "Annecy"), ("01000", "Bourg-en-Bresse"),
        ("26000", "Valence"), ("03100", "Montluçon"), ("15000", "Aurillac"),
        ("43000", "Le Puy-en-Velay"), ("07200", "Aubenas"), ("69800", "Saint-Priest"),
    )),
    "Provence-Alpes-Côte d'Azur": (8, (
        ("13001", "Marseille"), ("13008", "Marseille"), ("13100", "Aix-en-Provence"),
        ("06000", "Nice"), ("06400", "Cannes"), ("06600", "Antibes"), ("83000", "Toulon"),
        ("84000", "Avignon"), ("04000", "Digne-les-Bains"), ("05000", "Gap"),
        ("13200", "Arles"),
    )),
    "Occitanie": (9, (
        ("31000", "Toulouse"), ("34000", "Montpellier"), ("30000", "Nîmes"),
        ("66000", "Perpignan"), ("11000", "Carcassonne"), ("81000", "Albi"),
        ("65000", "Tarbes"), ("12000", "Rodez"), ("46000", "Cahors"), ("34500", "Béziers"),
        ("32000", "Auch"), ("09000", "Foix"), ("48000", "Mende"), ("82000", "Montauban"),
    )),
    "Nouvelle-Aquitaine": (9, (
        ("33000", "Bordeaux"), ("87000", "Limoges"), ("86000", "Poitiers"), ("64000", "Pau"),
        ("64100", "Bayonne"), ("17000", "La Rochelle"), ("24000", "Périgueux"),
        ("40000", "Mont-de-Marsan"), ("79000", "Niort"), ("16000", "Angoulême"),
        ("19100", "Brive-la-Gaillarde"),
    )),
    "Hauts-de-France": (9, (
        ("59000", "Lille"), ("59100", "Roubaix"), ("62000", "Arras"), ("80000", "Amiens"),
        ("60000", "Beauvais"), ("02100", "Saint-Quentin"), ("59140", "Dunkerque"),
        ("62200", "Boulogne-sur-Mer"), ("59300", "Valenciennes"), ("62100", "Calais"),
    )),
    "Grand Est": (8, (
        ("67000", "Strasbourg"), ("57000", "Metz"), ("54000", "Nancy"), ("51100", "Reims"),
        ("68100", "Mulhouse"), ("68000", "Colmar"), ("10000", "Troyes"), ("88000", "Épinal"),
        ("08000", "Charleville-Mézières"),
    )),
    "Pays de la Loire": (6, (
        ("44000", "Nantes"), ("49000", "Angers"), ("72000", "Le Mans"),
        ("85000", "La Roche-sur-Yon"), ("44600", "Saint-Nazaire"), ("53000", "Laval"),
    )),
    "Bretagne": (5, (
        ("35000", "Rennes"), ("29200", "Brest"), ("29000", "Quimper"), ("56000", "Vannes"),
        ("56100", "Lorient"), ("22000", "Saint-Brieuc"), ("35400", "Saint-Malo"),
    )),
    "Normandie": (5, (
        ("76000", "Rouen"), ("14000", "Caen"), ("76600", "Le Havre"),
        ("50100", "Cherbourg-en-Cotentin"), ("61000", "Alençon"), ("27000", "Évreux"),
    )),
    "Centre-Val de Loire": (4, (
        ("37000", "Tours"), ("45000", "Orléans"), ("18000", "Bourges"), ("28000", "Chartres"),
        ("41000", "Blois"), ("36000", "Châteauroux"),
    )),
    "Bourgogne-Franche-Comté": (4, (
        ("21000", "Dijon"), ("25000", "Besançon"), ("71100", "Chalon-sur-Saône"),
        ("89000", "Auxerre"), ("58000", "Nevers"), ("90000", "Belfort"),
    )),
    "Corse": (1, (("20000", "Ajaccio"), ("20200", "Bastia"))),
}  # fmt: skip

# Three-digit starts of French mobile numbers that libphonenumber accepts as mobiles
# (069x is only partly allocated and 070-072 not at all, so they are left out).
MOBILE_PREFIXES: tuple[str, ...] = (
    "060", "061", "062", "063", "064", "065", "066", "067", "068", "073", "074", "075", "076",
    "077", "078", "079",
)  # fmt: skip
# Inside "063" but refused by libphonenumber: skipped when drawing numbers.
UNALLOCATED_MOBILE_STARTS: tuple[str, ...] = ("0639",)

# Reserved for documentation (RFC 2606): demo notifications can never reach a real inbox.
CUSTOMER_EMAIL_DOMAINS: tuple[str, ...] = ("example.com", "example.net", "example.org")


@dataclass(frozen=True)
class Product:
    """An article of a demo catalogue."""

    sku: str
    name: str
    price: Decimal
    tax_rate: Decimal


def _ean13(first12: str) -> str:
    """Return *first12* followed by its EAN-13 check digit (books carry their ISBN-13)."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return first12 + str((10 - total % 10) % 10)


_VAT = Decimal("20.00")
_BOOK_VAT = Decimal("5.50")  # French reduced rate for books

HOME_GOODS: tuple[Product, ...] = tuple(
    Product(sku, name, Decimal(price), _VAT)
    for sku, name, price in (
        ("ML-LAMP-LAITON", "Lampe à poser en laiton brossé", "89.00"),
        ("ML-SUSP-ROTIN", "Suspension en rotin naturel Ø45", "129.00"),
        ("ML-APPL-OPAL", "Applique murale en verre opalin", "74.90"),
        ("ML-LAMP-CERAM", "Lampe de chevet en céramique sable", "59.00"),
        ("ML-GUIR-GLOB", "Guirlande lumineuse 20 globes", "34.90"),
        ("ML-BOUG-FIGU", "Bougie parfumée Figuier, 220 g", "24.50"),
        ("ML-BOUG-CEDR", "Bougie parfumée Cèdre et tabac, 220 g", "24.50"),
        ("ML-PHOT-CUIV", "Photophore en cuivre martelé", "19.90"),
        ("ML-LIN-HOUS", "Housse de couette en lin lavé 240x220", "139.00"),
        ("ML-LIN-DRAP", "Drap housse en lin lavé 160x200", "69.00"),
        ("ML-LIN-TAIE", "Lot de 2 taies en lin lavé 65x65", "39.00"),
        ("ML-PLAID-MERI", "Plaid en laine mérinos, gris perle", "79.00"),
        ("ML-COUS-VELO", "Coussin en velours côtelé 45x45, terracotta", "29.90"),
        ("ML-TAPI-JUTE", "Tapis en jute tressé 160x230", "149.00"),
        ("ML-RIDE-GAZE", "Rideau en gaze de coton 140x260", "45.00"),
        ("ML-VASE-GRES", "Vase en grès émaillé, vert sauge", "39.90"),
        ("ML-TASS-PORC", "Tasse en porcelaine de Limoges", "18.00"),
        ("ML-ASSI-GRES", "Assiette plate en grès Ø27", "16.50"),
        ("ML-CARA-VERR", "Carafe en verre soufflé, 1 L", "32.00"),
        ("ML-PLAN-CHEN", "Planche à découper en chêne massif", "42.00"),
        ("ML-NAPP-LIN", "Nappe en lin 160x250", "89.00"),
        ("ML-TORC-NIDA", "Lot de 3 torchons nid d'abeille", "22.00"),
        ("ML-MIRO-ROND", "Miroir rond en laiton Ø60", "119.00"),
        ("ML-HORL-FREN", "Horloge murale en frêne", "55.00"),
        ("ML-PANI-OSIE", "Panier en osier à anses", "36.00"),
        ("ML-SERV-BAIN", "Serviette de bain en coton bio 70x140", "27.00"),
        ("ML-DIFF-LING", "Diffuseur de parfum Linge propre", "29.00"),
        ("ML-ETAG-CHEN", "Étagère murale en chêne, 80 cm", "65.00"),
        ("ML-AMPO-FILA", "Ampoule LED à filament E27", "12.90"),
        ("ML-CPOT-TERR", "Cache-pot en terre cuite Ø20", "21.00"),
    )
)

BOOKSHOP: tuple[Product, ...] = (
    *(
        Product(_ean13(f"97823{index:07d}"), name, Decimal(price), _BOOK_VAT)
        for index, (name, price) in enumerate(
            (
                ("Les Misérables, tome 1 — Victor Hugo (poche)", "9.90"),
                ("Madame Bovary — Gustave Flaubert (poche)", "5.90"),
                ("Germinal — Émile Zola (poche)", "6.90"),
                ("Bel-Ami — Guy de Maupassant (poche)", "4.90"),
                ("Le Comte de Monte-Cristo, tome 1 — Alexandre Dumas (poche)", "9.50"),
                ("Vingt mille lieues sous les mers — Jules Verne (poche)", "6.50"),
                ("Le Père Goriot — Honoré de Balzac (poche)", "4.90"),
                ("Le Rouge et le Noir — Stendhal (poche)", "6.90"),
                ("Les Fleurs du mal — Charles Baudelaire (poche)", "4.50"),
                ("Cyrano de Bergerac — Edmond Rostand (poche)", "4.90"),
                ("Le Tour du monde en quatre-vingts jours — Jules Verne", "5.50"),
                ("Les Trois Mousquetaires — Alexandre Dumas", "8.90"),
                ("Notre-Dame de Paris — Victor Hugo", "8.50"),
                ("Candide — Voltaire", "3.50"),
                ("Du côté de chez Swann — Marcel Proust", "8.90"),
                ("L'Assommoir — Émile Zola", "6.90"),
                ("Le Horla — Guy de Maupassant", "3.90"),
                ("Les Liaisons dangereuses — Choderlos de Laclos", "6.50"),
                ("Balades à pied autour de Nantes", "19.90"),
                ("La cuisine des marchés de l'Ouest", "24.00"),
                ("Mon premier atlas du ciel", "16.90"),
            )
        )
    ),
    *(
        Product(sku, name, Decimal(price), _VAT)
        for sku, name, price in (
            ("LDM-CARNET-A5", "Carnet ligné A5, couverture en lin", "12.50"),
            ("LDM-MARQUE-PAGE", "Marque-page en laiton gravé", "7.90"),
            ("LDM-TAROT", "Jeu de tarot traditionnel", "11.00"),
            ("LDM-STYLO-PLUME", "Stylo-plume de voyage", "22.00"),
            ("LDM-CALENDRIER", "Calendrier perpétuel en bois", "18.00"),
            ("LDM-CARTE-NANTES", "Carte postale illustrée, Nantes", "1.80"),
        )
    ),
)
